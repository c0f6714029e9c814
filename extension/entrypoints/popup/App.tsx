/**
 * The popup: the user checking their balance. Signed out: sign in (Clerk, and/or a local dev user).
 * Signed in: plan, used/remaining with a progress bar, reset date, overage and its estimated cost, daily
 * usage, the last rewrites, and Upgrade / Manage billing once the API advertises billing.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { browser } from 'wxt/browser';
import { send } from '../../ui/send';
import { useClerkBridge } from '../../ui/clerk-context';
import type { AuthState, UsageResult, UsageWithBilling } from '../../lib/protocol';
import { actionLabel } from '../../lib/labels';
import { alertLine, fmtAgo, fmtDate, fmtInt, fmtUsd, periodDays, share, type ChartDay } from '../../lib/format';

export function App() {
  const clerk = useClerkBridge();
  const [auth, setAuth] = useState<AuthState | null>(null);
  const [usage, setUsage] = useState<UsageResult | null>(null);
  const [loading, setLoading] = useState(false);

  const refresh = useCallback(async () => {
    setLoading(true);
    try {
      const state = await send({ type: 'auth/state' });
      setAuth(state);
      setUsage(state.signedIn ? await send({ type: 'usage/get' }) : null);
    } finally {
      setLoading(false);
    }
  }, []);

  // Re-read when Clerk's sign-in state changes (the background's Clerk client reads the same storage).
  useEffect(() => {
    void refresh();
  }, [refresh, clerk?.isSignedIn]);

  if (!auth) return <main className="popup" aria-busy="true"><Header /><p className="muted">Loading…</p></main>;

  const signOut = async () => {
    if (auth.mode === 'clerk' && clerk) await clerk.signOut();
    setAuth(await send({ type: 'auth/sign-out' }));
    setUsage(null);
  };

  return (
    <main className="popup">
      <Header auth={auth} onSignOut={signOut} />
      {!auth.signedIn ? (
        <SignedOut auth={auth} onSignedIn={refresh} />
      ) : !usage ? (
        <p className="muted">Loading your balance…</p>
      ) : !usage.ok ? (
        <div className="error" role="alert">
          <p>{usage.status === 401 ? 'Your session has ended. Sign out and sign in again.' : usage.message}</p>
          <button type="button" onClick={() => void refresh()}>Try again</button>
        </div>
      ) : (
        <Balance usage={usage.usage} fetchedAt={usage.fetchedAt} onRefresh={refresh} loading={loading} />
      )}
    </main>
  );
}

function Header({ auth, onSignOut }: { auth?: AuthState; onSignOut?: () => void }) {
  return (
    <header className="head">
      <span className="brand">R</span>
      <strong>Redraft</strong>
      {auth?.signedIn && (
        <span className="user" title={auth.mode === 'dev' ? 'Local development user' : 'Signed in with Clerk'} data-testid="user">
          {auth.userId}
          {auth.mode === 'dev' && <span className="tag">local</span>}
        </span>
      )}
      {auth?.signedIn && onSignOut && (
        <button type="button" className="link" onClick={onSignOut}>
          Sign out
        </button>
      )}
    </header>
  );
}

function SignedOut({ auth, onSignedIn }: { auth: AuthState; onSignedIn: () => void }) {
  const clerk = useClerkBridge();
  const [userId, setUserId] = useState('user_dev');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const devSignIn = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    const r = await send({ type: 'auth/dev-sign-in', userId });
    setBusy(false);
    if (r.ok) onSignedIn();
    else setError(r.message);
  };

  return (
    <section className="signed-out">
      <p>Sign in to rewrite text on any page and see your balance.</p>
      {clerk && (
        <div className="clerk">
          {clerk.failed ? (
            <p className="error">Sign-in could not load. Check your connection and reopen Redraft.</p>
          ) : clerk.isLoaded ? (
            clerk.signIn()
          ) : (
            <p className="muted">Loading sign-in…</p>
          )}
        </div>
      )}
      {auth.devAuthAvailable && (
        <form className="dev" onSubmit={devSignIn}>
          <label htmlFor="dev-user">Local user id</label>
          <div className="row">
            <input id="dev-user" value={userId} onChange={(e) => setUserId(e.target.value)} autoComplete="off" spellCheck={false} />
            <button type="submit" className="primary" disabled={busy}>
              Sign in as a local user
            </button>
          </div>
          <p className="muted small">Development only: the API at {auth.apiUrl} issues a local session token (DEV_AUTH).</p>
        </form>
      )}
      {!clerk && !auth.devAuthAvailable && (
        <p className="error">
          This build has no sign-in for {auth.apiUrl}. Build with REDRAFT_CLERK_PUBLISHABLE_KEY, or point the options page at a local API.
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

function Balance({ usage: u, fetchedAt, onRefresh, loading }: { usage: UsageWithBilling; fetchedAt: string; onRefresh: () => void; loading: boolean }) {
  // With overage (Pro), the bar shows the included allowance until it is used up, then runs to the spending
  // cap with a mark where the included tokens ended: a bar scaled to the cap from the start would barely move.
  const withinIncluded = u.hardCapTokens > u.includedTokens && u.usedTokens <= u.includedTokens;
  const barMax = withinIncluded ? u.includedTokens : u.hardCapTokens;
  const used = share(u.usedTokens, barMax);
  const includedMark = u.hardCapTokens > u.includedTokens && !withinIncluded ? share(u.includedTokens, u.hardCapTokens) : null;
  const pctIncluded = u.includedTokens > 0 ? Math.floor((u.usedTokens / u.includedTokens) * 100) : 0;
  const includedLeft = Math.max(0, u.includedTokens - u.usedTokens);
  const level = pctIncluded >= 100 ? 'over' : pctIncluded >= 80 ? 'warn' : 'ok';
  const billing = u.billing?.enabled === true && (u.billing.canUpgrade || u.billing.canManage);
  const alert = alertLine(u.alerts, u.plan);
  const [billingError, setBillingError] = useState('');
  const openBilling = async (kind: 'checkout' | 'portal') => {
    setBillingError('');
    const r = await send({ type: 'billing/open', kind });
    if (!r.ok) setBillingError(r.message);
  };

  return (
    <section className="balance" data-testid="balance">
      <div className="plan-row">
        <span className={`plan plan-${u.plan}`} data-testid="plan">
          {u.plan.charAt(0).toUpperCase() + u.plan.slice(1)} plan
        </span>
        <span className="muted small">Resets {fmtDate(u.period.end)}</span>
      </div>
      <p className="remaining">
        <strong data-testid="remaining">{fmtInt(u.remainingTokens)}</strong> tokens left
      </p>
      {u.hardCapTokens > u.includedTokens && (
        // With overage the big number runs to the spending cap: say how much of it is still included.
        <p className="small included-left" data-testid="included-left">
          {includedLeft > 0 ? (
            <>
              <strong>{fmtInt(includedLeft)}</strong> included left, then billed as overage
            </>
          ) : (
            'Included tokens used up: now billed as overage'
          )}
        </p>
      )}
      <div className={`bar bar-${level}`} role="progressbar" aria-label="Tokens used this period" aria-valuemin={0} aria-valuemax={barMax} aria-valuenow={u.usedTokens}>
        <div className="fill" style={{ width: `${(used * 100).toFixed(1)}%` }} />
        {includedMark !== null && <div className="mark" style={{ left: `${(includedMark * 100).toFixed(1)}%` }} title="End of included tokens" />}
      </div>
      <p className="small">
        <span data-testid="used">{fmtInt(u.usedTokens)}</span> of <span data-testid="included">{fmtInt(u.includedTokens)}</span> included used ({pctIncluded}%)
        {u.hardCapTokens > u.includedTokens && <span className="muted"> · cap {fmtInt(u.hardCapTokens)}</span>}
      </p>
      <p className="small" data-testid="overage">
        Overage so far: {fmtInt(u.overageTokens)} tokens · est. {fmtUsd(u.estimatedOverageUsd)}
      </p>
      {alert && (
        <p className={`alert small alert-${level}`} role="status" data-testid="alert">
          {alert}
        </p>
      )}
      {u.billing?.pastDue && (
        <p className="alert small alert-over" role="status" data-testid="past-due">
          A payment failed: usage is capped at the included tokens until it is paid. Manage billing to fix it.
        </p>
      )}
      {u.billing?.endsAtPeriodEnd && (
        <p className="small muted" data-testid="plan-ends">
          {u.plan.charAt(0).toUpperCase() + u.plan.slice(1)} ends on {fmtDate(u.period.end)}; you will be on Free after that.
        </p>
      )}

      <h2>Daily usage</h2>
      <DailyChart days={periodDays(u.period, u.daily)} />

      <h2>Recent rewrites</h2>
      {u.recent.length === 0 ? (
        <p className="muted small">None yet. Select text on any page to start.</p>
      ) : (
        <ul className="recent" data-testid="recent">
          {u.recent.slice(0, 5).map((r) => (
            <li key={r.requestId}>
              <span>{actionLabel(r.action)}</span>
              <span className="muted">{fmtAgo(r.at)}</span>
              <span className="tokens">{fmtInt(r.tokens)}</span>
            </li>
          ))}
        </ul>
      )}

      {billing && (
        <div className="row billing">
          {u.billing.canUpgrade && (
            <button type="button" className="primary" onClick={() => void openBilling('checkout')}>
              Upgrade to Pro
            </button>
          )}
          {u.billing.canManage && (
            <button type="button" onClick={() => void openBilling('portal')}>
              Manage billing
            </button>
          )}
        </div>
      )}
      {billingError && <p className="error">{billingError}</p>}

      <footer className="foot">
        <span className="muted small">Updated {fmtAgo(fetchedAt)}</span>
        <button type="button" className="link" onClick={onRefresh} disabled={loading}>
          Refresh
        </button>
        <button type="button" className="link" onClick={() => void browser.runtime.openOptionsPage()}>
          Options
        </button>
      </footer>
    </section>
  );
}

function DailyChart({ days }: { days: ChartDay[] }) {
  const W = 320;
  const H = 56;
  const peak = Math.max(0, ...days.map((d) => d.tokens));
  const max = Math.max(1, peak); // bar scale
  const bw = days.length > 0 ? W / days.length : W;
  const gap = bw > 6 ? 2 : 0.5;
  const total = days.reduce((n, d) => n + d.tokens, 0);
  const today = days.filter((d) => !d.future).at(-1)?.date;
  return (
    <figure className="chart" data-testid="chart">
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" height={H} role="img" aria-label={`Daily tokens this period, ${fmtInt(total)} in all`}>
        {days.map((d, i) => {
          const h = d.tokens > 0 ? Math.max(2, (d.tokens / max) * (H - 4)) : 1;
          return (
            <rect key={d.date} x={i * bw + gap / 2} y={H - h} width={Math.max(1, bw - gap)} height={h} rx="1" className={d.future ? 'future' : d.date === today ? 'today' : d.tokens > 0 ? 'day' : 'empty'}>
              <title>{`${fmtDate(d.date)}: ${fmtInt(d.tokens)} tokens`}</title>
            </rect>
          );
        })}
      </svg>
      {days.length > 0 && (
        <figcaption className="muted small">
          <span>{fmtDate(days[0]!.date)}</span>
          <span>
            {total > 0 ? `${fmtInt(total)} this period · max ${fmtInt(peak)}/day` : 'Nothing used yet this period'}
          </span>
          <span>{fmtDate(days[days.length - 1]!.date)}</span>
        </figcaption>
      )}
    </figure>
  );
}
