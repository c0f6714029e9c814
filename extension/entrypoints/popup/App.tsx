/**
 * The popup: the user checking their balance. Signed out: sign in (Clerk, and/or a local dev user).
 * Signed in: plan, the headline of the balance (tokens left of the allowance; on Pro, past the included tokens,
 * the overage so far and its cost) with a bar that shows the same thing, reset date, the spending cap (Pro),
 * daily usage, the recent rewrites (their texts kept on this device, to reopen and copy), and Upgrade (with
 * its price) / Manage billing once the API advertises billing. What it says comes from lib/usage-view.ts.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { browser } from 'wxt/browser';
import { send } from '../../ui/send';
import { useClerkBridge } from '../../ui/clerk-context';
import type { AuthState, UsageResult, UsageWithBilling } from '../../lib/protocol';
import { actionLabel, PLATFORM_LABELS, TONE_LABELS } from '../../lib/labels';
import { alertLine, fmtAgo, fmtDate, fmtInt, fmtUsd, periodDays, type ChartDay } from '../../lib/format';
import { fmtRate, usageView } from '../../lib/usage-view';
import { mergeRecent, type HistoryEntry, type RecentItem } from '../../lib/history';
import { parseCapInput, type CapSettings } from '../../lib/api';

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
  // biome-ignore lint/correctness/useExhaustiveDependencies: the sign-in state is the trigger, not an input of refresh
  useEffect(() => {
    void refresh();
  }, [refresh, clerk?.isSignedIn]);

  if (!auth)
    return (
      <main className="popup" aria-busy="true">
        <Header />
        <p className="muted">Loading…</p>
      </main>
    );

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
          <button type="button" onClick={() => void refresh()}>
            Try again
          </button>
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
      <span className="brand" aria-hidden="true">
        R
      </span>
      <h1 className="title">Redraft</h1>
      {auth?.signedIn && (
        <span
          className="user"
          title={auth.mode === 'dev' ? 'Local development user' : 'Signed in with Clerk'}
          data-testid="user"
        >
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
            <input
              id="dev-user"
              value={userId}
              onChange={(e) => setUserId(e.target.value)}
              autoComplete="off"
              spellCheck={false}
            />
            <button type="submit" className="primary" disabled={busy}>
              Sign in as a local user
            </button>
          </div>
          <p className="muted small">
            Development only: the API at {auth.apiUrl} issues a local session token (DEV_AUTH).
          </p>
        </form>
      )}
      {!clerk && !auth.devAuthAvailable && (
        <p className="error">
          This build has no sign-in for {auth.apiUrl}. Build with REDRAFT_CLERK_PUBLISHABLE_KEY, or point the options
          page at a local API.
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

function Balance({
  usage: u,
  fetchedAt,
  onRefresh,
  loading,
}: {
  usage: UsageWithBilling;
  fetchedAt: string;
  onRefresh: () => void;
  loading: boolean;
}) {
  const offer = u.proPlan ?? null; // older APIs do not state the Pro price: then none is shown
  const v = usageView(u, {
    overageUsdPer1k: u.plan === 'pro' && offer ? offer.overageUsdPer1kTokens : null,
    resetsOn: fmtDate(u.period.end),
  });
  const billing = u.billing?.enabled === true && (u.billing.canUpgrade || u.billing.canManage);
  const alert = alertLine(u.alerts, u.plan);
  const planName = u.plan.charAt(0).toUpperCase() + u.plan.slice(1);
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
          {planName} plan
        </span>
        <span className="muted small">Resets {fmtDate(u.period.end)}</span>
      </div>
      {v.phase === 'overage' ? (
        <p className="headline" data-testid="headline">
          <strong data-testid="overage-used">{fmtInt(v.headline.value)}</strong> {v.headline.text}
          {' · '}
          <span className="cost" data-testid="overage-cost">
            {v.cost}
          </span>
        </p>
      ) : (
        <p className="headline" data-testid="headline">
          <strong data-testid="remaining">{fmtInt(v.headline.value)}</strong> {v.headline.text}
        </p>
      )}
      <div
        className={`bar bar-${v.tone}`}
        role="progressbar"
        aria-label={v.barName}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={v.bar.pct}
        aria-valuetext={v.barLabel}
        data-testid="bar"
        data-pct={v.bar.pct}
      >
        <div className="fill" style={{ width: `${v.bar.pct}%` }} />
      </div>
      <p className="small bar-label" data-testid="bar-label">
        {v.phase === 'overage' ? (
          v.barLabel
        ) : (
          <>
            <span data-testid="used">{fmtInt(u.usedTokens)}</span> of{' '}
            <span data-testid="included">{fmtInt(v.phase === 'included' ? u.includedTokens : u.hardCapTokens)}</span>
            {v.phase === 'included' ? ' included' : ''} used ({v.bar.pct}%)
          </>
        )}
      </p>
      {v.phase === 'overage' && (
        <p className="small muted" data-testid="used-line">
          <span data-testid="used">{fmtInt(u.usedTokens)}</span> used this period:{' '}
          <span data-testid="included">{fmtInt(u.includedTokens)}</span> included, then {fmtInt(u.overageTokens)} billed
          as overage
          {offer && u.plan === 'pro' ? ` at ${fmtRate(offer.overageUsdPer1kTokens)} per 1,000` : ''}.
        </p>
      )}
      {v.then && (
        <p className="small muted" data-testid="then">
          {v.then}
        </p>
      )}
      {v.note && (
        <p className="alert small alert-danger" role="status" data-testid="cap-note">
          {v.note}
        </p>
      )}
      {alert && !v.note && (
        <p className={`alert small alert-${v.tone}`} role="status" data-testid="alert">
          {alert}
        </p>
      )}
      {u.billing?.pastDue && (
        <p className="alert small alert-danger" role="status" data-testid="past-due">
          A payment failed: usage is capped at the included tokens until it is paid. Manage billing to fix it.
        </p>
      )}
      {u.billing?.endsAtPeriodEnd && (
        <p className="small muted" data-testid="plan-ends">
          {planName} ends on {fmtDate(u.period.end)}; you will be on Free after that.
        </p>
      )}
      {u.plan !== 'free' && <SpendingCap onChanged={onRefresh} />}

      <h2>Daily usage</h2>
      <DailyChart days={periodDays(u.period, u.daily)} />

      <Recent server={u.recent} />

      {billing && (
        <div className="billing">
          {u.billing.canUpgrade && (
            <div className="upgrade">
              <button type="button" className="primary" onClick={() => void openBilling('checkout')}>
                {offer ? `Upgrade to Pro · ${fmtRate(offer.monthlyPriceUsd)}/month` : 'Upgrade to Pro'}
              </button>
              {offer && (
                <p className="small muted" data-testid="upgrade-offer">
                  {fmtRate(offer.monthlyPriceUsd)} a month for {fmtInt(offer.includedTokens)} tokens, then{' '}
                  {fmtRate(offer.overageUsdPer1kTokens)} per 1,000 tokens up to a spending cap you choose (at most{' '}
                  {fmtRate(offer.maxOverageCapUsd)} a month).
                </p>
              )}
            </div>
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

/**
 * The overage spending cap (Pro): GET/PUT /v1/settings through the background. Hidden when the API has no
 * such setting (404) or the plan has none (maxOverageCapUsd null).
 */
function SpendingCap({ onChanged }: { onChanged: () => void }) {
  const [settings, setSettings] = useState<CapSettings | null>(null);
  const [loadError, setLoadError] = useState('');
  const [editing, setEditing] = useState(false);
  const [input, setInput] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    void send({ type: 'settings/get' }).then((r) => {
      if (!live) return;
      if (r.ok) setSettings(r.settings);
      else if (!r.unsupported) setLoadError(r.message);
    });
    return () => {
      live = false;
    };
  }, []);

  if (loadError)
    return (
      <p className="small muted" data-testid="spending-cap-error">
        Spending cap: {loadError}
      </p>
    );
  if (!settings || settings.maxOverageCapUsd === null) return null;
  const max = settings.maxOverageCapUsd;
  const inForce = settings.overageCapUsd ?? max;

  const save = async (value: number | null) => {
    setBusy(true);
    setError('');
    const r = await send({ type: 'settings/set-overage-cap', overageCapUsd: value });
    setBusy(false);
    if (!r.ok) return setError(r.message);
    setSettings(r.settings);
    setEditing(false);
    onChanged();
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const parsed = parseCapInput(input, max);
    if (!parsed.ok) return setError(parsed.message);
    void save(parsed.value);
  };

  return (
    <div className="cap" data-testid="spending-cap">
      {!editing ? (
        <p className="small">
          Spending cap: <strong data-testid="spending-cap-value">{fmtUsd(inForce)}</strong> of overage a month
          {settings.overageCapUsd === null ? ' (the most Pro allows)' : ''}{' '}
          <button
            type="button"
            className="link"
            onClick={() => {
              setInput(settings.overageCapUsd === null ? '' : String(settings.overageCapUsd));
              setError('');
              setEditing(true);
            }}
          >
            Change
          </button>
        </p>
      ) : (
        <form onSubmit={submit}>
          <label htmlFor="cap-input" className="small">
            Spending cap on overage, US$ a month (at most {fmtUsd(max)})
          </label>
          <div className="row">
            <input
              id="cap-input"
              inputMode="decimal"
              value={input}
              placeholder={String(max)}
              onChange={(e) => setInput(e.target.value)}
              autoComplete="off"
              aria-describedby={error ? 'cap-error' : undefined}
            />
            <button type="submit" className="primary" disabled={busy}>
              Save
            </button>
            <button type="button" onClick={() => setEditing(false)} disabled={busy}>
              Cancel
            </button>
          </div>
          <p className="small muted">
            Rewrites stop once the overage reaches it.{' '}
            {settings.overageCapUsd !== null && (
              <button type="button" className="link" onClick={() => void save(null)} disabled={busy}>
                Use the maximum ({fmtUsd(max)})
              </button>
            )}
          </p>
          {error && (
            <p className="error small" id="cap-error" role="alert">
              {error}
            </p>
          )}
        </form>
      )}
    </div>
  );
}

const itemLabel = (i: { action: string; tone?: string; platform?: string }) =>
  actionLabel(i.action) +
  (i.tone ? ` · ${(TONE_LABELS as Record<string, string>)[i.tone] ?? i.tone}` : '') +
  (i.platform ? ` · ${(PLATFORM_LABELS as Record<string, string>)[i.platform] ?? i.platform}` : '');

/** Recent rewrites: the API's list (tokens) with this device's texts; a kept one opens with Copy. */
function Recent({ server }: { server: UsageWithBilling['recent'] }) {
  const [local, setLocal] = useState<HistoryEntry[]>([]);
  const [open, setOpen] = useState<RecentItem | null>(null);
  const [copied, setCopied] = useState('');

  useEffect(() => {
    void send({ type: 'history/list' }).then((h) => setLocal(Array.isArray(h) ? h : []));
  }, []);

  const items = mergeRecent(server, local);
  const clear = async () => {
    await send({ type: 'history/clear' });
    setLocal([]);
    setOpen(null);
  };
  const copy = async (text: string) => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied('Copied');
    } catch {
      setCopied('Could not copy: select the text and copy it yourself.');
    }
  };

  if (open?.entry) {
    const e = open.entry;
    return (
      <section className="detail" data-testid="recent-detail" aria-labelledby="detail-title">
        <h2 id="detail-title">
          {itemLabel(open)} · {fmtAgo(e.at)}
        </h2>
        <p className="small muted">From: “{e.text}”</p>
        {/* biome-ignore lint/a11y/noNoninteractiveTabindex lint/a11y/useSemanticElements: a scrollable region is focusable so keyboard users can scroll it (axe scrollable-region-focusable) */}
        <div className="result-text" data-testid="recent-result" tabIndex={0} role="region" aria-label="Result">
          {e.result}
        </div>
        <div className="row">
          <button type="button" className="primary" onClick={() => void copy(e.result)}>
            Copy
          </button>
          <button
            type="button"
            onClick={() => {
              setOpen(null);
              setCopied('');
            }}
          >
            Back
          </button>
          <span className="small muted" role="status" data-testid="copy-status">
            {copied}
          </span>
        </div>
      </section>
    );
  }

  return (
    <>
      <div className="section-head">
        <h2>Recent rewrites</h2>
        {local.length > 0 && (
          <button
            type="button"
            className="link small"
            onClick={() => void clear()}
            title="Forget the rewrite texts kept on this device"
          >
            Clear
          </button>
        )}
      </div>
      {items.length === 0 ? (
        <p className="muted small">None yet. Select text on any page to start.</p>
      ) : (
        <>
          <ul className="recent" data-testid="recent">
            {items.map((r) => {
              const inner = (
                <>
                  <span className="what">
                    <span>{itemLabel(r)}</span>
                    {r.entry && <span className="preview muted">{r.entry.result.slice(0, 120)}</span>}
                  </span>
                  <span className="muted">{fmtAgo(r.at)}</span>
                  <span className="tokens">{r.tokens !== undefined ? fmtInt(r.tokens) : ''}</span>
                </>
              );
              return (
                <li key={r.key}>
                  {r.entry ? (
                    <button
                      type="button"
                      className="item"
                      onClick={() => setOpen(r)}
                      title="Show the whole result, to copy it"
                    >
                      {inner}
                    </button>
                  ) : (
                    <div className="item">{inner}</div>
                  )}
                </li>
              );
            })}
          </ul>
          {local.length > 0 && (
            <p className="small muted">Texts of the last {local.length} rewrites are kept only on this device.</p>
          )}
        </>
      )}
    </>
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
      <svg
        viewBox={`0 0 ${W} ${H}`}
        width="100%"
        height={H}
        role="img"
        aria-label={`Daily tokens this period, ${fmtInt(total)} in all`}
      >
        {days.map((d, i) => {
          const h = d.tokens > 0 ? Math.max(2, (d.tokens / max) * (H - 4)) : 1;
          return (
            <rect
              key={d.date}
              x={i * bw + gap / 2}
              y={H - h}
              width={Math.max(1, bw - gap)}
              height={h}
              rx="1"
              className={d.future ? 'future' : d.date === today ? 'today' : d.tokens > 0 ? 'day' : 'empty'}
            >
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
