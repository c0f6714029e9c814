/**
 * ClerkProvider for extension pages (loaded lazily, only when the build has a Clerk publishable key).
 * OAuth does not work inside an extension popup: email/password or email codes do, and `syncHost`
 * shares the session of the web app signed in in the same browser.
 */
import type { ReactNode } from 'react';
import { browser } from 'wxt/browser';
import { ClerkProvider, SignIn, useAuth, useClerk } from '@clerk/chrome-extension';
import { ClerkContext } from './clerk-context';

function Bridge({ children }: { children: ReactNode }) {
  const { isLoaded, isSignedIn } = useAuth();
  const clerk = useClerk();
  return (
    <ClerkContext.Provider
      value={{
        isLoaded,
        failed: clerk.status === 'error',
        isSignedIn: !!isSignedIn,
        signIn: () => <SignIn routing="hash" />,
        signOut: () => clerk.signOut(),
      }}
    >
      {children}
    </ClerkContext.Provider>
  );
}

export function ClerkShell({ children, page }: { children: ReactNode; page: string }) {
  const build = __REDRAFT_BUILD__;
  const here = browser.runtime.getURL(page as '/popup.html');
  return (
    <ClerkProvider
      publishableKey={build.clerkPublishableKey!}
      {...(build.clerkSyncHost ? { syncHost: build.clerkSyncHost } : {})}
      afterSignOutUrl={here}
      signInFallbackRedirectUrl={here}
      signUpFallbackRedirectUrl={here}
    >
      <Bridge>{children}</Bridge>
    </ClerkProvider>
  );
}
