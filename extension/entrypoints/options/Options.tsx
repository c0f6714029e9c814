/** Options: the API address (validated; another https origin is asked for as a host permission), where Redraft shows in pages, and who is signed in. */
import { useEffect, useState, type FormEvent } from 'react';
import { browser } from 'wxt/browser';
import { send } from '../../ui/send';
import { useClerkBridge } from '../../ui/clerk-context';
import { checkApiUrl, originPattern } from '../../lib/build-config';
import type { AuthState } from '../../lib/protocol';
import { SiteSettings } from '../../ui/SiteSettings';
import { StylesEditor } from '../../ui/StylesEditor';

export function Options() {
  const clerk = useClerkBridge();
  const [auth, setAuth] = useState<AuthState | null>(null);
  const [apiUrl, setApiUrl] = useState('');
  const [status, setStatus] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);

  const load = async () => {
    const s = await send({ type: 'auth/state' });
    setAuth(s);
    setApiUrl((v) => v || s.apiUrl);
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: re-read when Clerk's sign-in state changes (load reads the background)
  useEffect(() => {
    void load();
  }, [clerk?.isSignedIn]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setStatus(null);
    const check = checkApiUrl(apiUrl);
    if (!check.ok) return setStatus({ kind: 'error', text: check.reason });
    // Origins outside the manifest's host_permissions are requested now (this click is the user gesture).
    const origins = [originPattern(check.origin)];
    const granted =
      (await browser.permissions.contains({ origins })) ||
      (await browser.permissions.request({ origins }).catch(() => false));
    if (!granted) return setStatus({ kind: 'error', text: `Redraft needs permission to talk to ${check.origin}.` });
    const r = await send({ type: 'settings/set-api-url', apiUrl: check.origin });
    if (!r.ok) return setStatus({ kind: 'error', text: r.message });
    setApiUrl(r.apiUrl);
    let health = '';
    try {
      const res = await fetch(`${r.apiUrl}/health`);
      health = res.ok ? 'The API answers /health.' : `The API answered /health with ${res.status}.`;
    } catch {
      health = 'The API did not answer /health yet.';
    }
    setStatus({ kind: 'ok', text: `Saved ${r.apiUrl}. ${health}` });
    await load();
  };

  const signOut = async () => {
    if (auth?.mode === 'clerk' && clerk) await clerk.signOut();
    setAuth(await send({ type: 'auth/sign-out' }));
  };

  return (
    <main className="options">
      <header className="head">
        <span className="brand" aria-hidden="true">
          R
        </span>
        <h1 className="title">Redraft options</h1>
      </header>
      <form onSubmit={save} className="field">
        <label htmlFor="api-url">API address</label>
        <div className="row">
          <input
            id="api-url"
            value={apiUrl}
            onChange={(e) => setApiUrl(e.target.value)}
            placeholder="https://api.example.com"
            spellCheck={false}
          />
          <button type="submit" className="primary">
            Save
          </button>
        </div>
        <p className="muted small">
          https:// origins, or http:// on this machine (localhost, 127.0.0.1). Default for this build:{' '}
          {__REDRAFT_BUILD__.apiUrl}
        </p>
        {status && (
          <p className={status.kind === 'error' ? 'error' : 'ok'} role="status" data-testid="options-status">
            {status.text}
          </p>
        )}
      </form>
      <SiteSettings />
      <StylesEditor signedIn={!!auth?.signedIn} />
      <section className="field">
        <h2>Account</h2>
        {!auth ? (
          <p className="muted">Loading…</p>
        ) : auth.signedIn ? (
          <p data-testid="options-user">
            Signed in as <strong>{auth.userId}</strong> {auth.mode === 'dev' ? '(local development user)' : '(Clerk)'}{' '}
            <button type="button" className="link" onClick={() => void signOut()}>
              Sign out
            </button>
          </p>
        ) : (
          <p data-testid="options-user">Not signed in. Open the Redraft button in the toolbar to sign in.</p>
        )}
      </section>
    </main>
  );
}
