/** Mounts an extension page, inside the Clerk shell when the build has Clerk (loaded lazily otherwise never). */
import { StrictMode, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';

export async function mountPage(page: string, app: ReactNode) {
  const root = createRoot(document.getElementById('root')!);
  if (__REDRAFT_CLERK__) {
    const { ClerkShell } = await import('./clerk-shell');
    root.render(
      <StrictMode>
        <ClerkShell page={page}>{app}</ClerkShell>
      </StrictMode>,
    );
  } else {
    root.render(<StrictMode>{app}</StrictMode>);
  }
}
