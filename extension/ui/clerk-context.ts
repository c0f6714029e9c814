/**
 * What the Clerk shell (only in builds with a publishable key) gives the popup and options page:
 * Clerk's sign-in UI and sign-out. Builds without Clerk never load @clerk/*.
 */
import { createContext, useContext, type ReactNode } from 'react';

export interface ClerkBridge {
  isLoaded: boolean;
  /** Clerk could not load (offline, blocked, wrong key). */
  failed: boolean;
  isSignedIn: boolean;
  signIn: () => ReactNode;
  signOut: () => Promise<void>;
}

export const ClerkContext = createContext<ClerkBridge | null>(null);
export const useClerkBridge = () => useContext(ClerkContext);
