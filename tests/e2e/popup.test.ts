/**
 * The popup and options page end to end in real Chromium, against the local stack with billing on (the API
 * configured by `startBillingStack` against the offline Stripe stand-in): signed out, Free at 82 %, Pro within
 * the included tokens, Pro in overage (calm, with its cost), Pro near its spending cap (red), a rewrite reopened
 * from the recent list and copied, and Clear. In light and dark (`prefers-color-scheme`), each state is checked
 * with axe-core (no serious or critical violations) and screenshotted to test-results/screenshots/popup-*.png.
 *
 * This API has no GET /v1/settings (it is built on another branch): the spending-cap control must stay hidden.
 */
import { keys } from '../../api/metering/keys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { AxeResults, Result } from 'axe-core';
import { seedUsage, startBillingStack, subscribeDirect, type BillingStack } from '../support/billing';
import { PLANS } from '../../api/config/plans';
import type { UsageResponse } from '../../shared/contract';
import {
  buildExtension,
  finished,
  launchWithExtension,
  num,
  openPopup,
  openToolbar,
  ROOT,
  screenshotPath,
  selectFirstLine,
  serveTestSite,
  ui,
  WAIT,
  type LoadedExtension,
  type TestSite,
} from './helpers';

/** The extension APIs as used inside `worker.evaluate` (which runs in the service worker, not here). */
declare const chrome: {
  action: {
    getBadgeText(details: object): Promise<string>;
    getBadgeBackgroundColor(details: object): Promise<number[]>;
  };
  storage: { local: { get(key: string): Promise<Record<string, unknown>> } };
};
declare const axe: { run(context: Document, options: object): Promise<AxeResults> };

const AXE = join(ROOT, 'node_modules/axe-core/axe.min.js');
const FREE_USER = 'e2e_popup_free';
const PRO_USER = 'e2e_popup_pro';
const FREE_SEEDED = 16_400; // 82 % of the free allowance
const PRO = PLANS.pro;

let b: BillingStack;
let ext: LoadedExtension;
let site: TestSite;
let page: Page;
/** axe figures per state and theme, written to test-results/popup-axe.json. */
const figures: Record<
  string,
  { violations: number; seriousOrCritical: number; passes: number; incomplete: number; ids: string[] }
> = {};

const badge = () =>
  ext.worker.evaluate(async () => ({
    text: await chrome.action.getBadgeText({}),
    color: await chrome.action.getBadgeBackgroundColor({}),
  }));
const rgb = (c: number[]) =>
  `#${c
    .slice(0, 3)
    .map((n) => n.toString(16).padStart(2, '0'))
    .join('')}`;
const usageOf = async (userId: string) => (await (await (await b.as(userId))('/v1/usage')).json()) as UsageResponse;

/** How axe got into the pages (reported with the figures). */
const injection = new Set<string>();

/** Runs axe-core in the page; fails on serious or critical violations, printing them. */
async function axeCheck(p: Page, label: string) {
  if (!(await p.evaluate(() => 'axe' in window))) {
    try {
      await p.addScriptTag({ path: AXE });
      injection.add('addScriptTag');
    } catch {
      injection.add('evaluate');
      // An extension page's CSP refuses inline scripts: evaluate the same file through the DevTools protocol instead.
      await p.evaluate(readFileSync(AXE, 'utf8'));
    }
  }
  const result = await p.evaluate(() => axe.run(document, {}));
  const bad = result.violations.filter((v: Result) => v.impact === 'serious' || v.impact === 'critical');
  figures[label] = {
    violations: result.violations.length,
    seriousOrCritical: bad.length,
    passes: result.passes.length,
    incomplete: result.incomplete.length,
    ids: [
      ...result.violations.map((v) => `${v.id} (${v.impact})`),
      ...result.incomplete.map((v) => `incomplete: ${v.id}`),
    ],
  };
  if (bad.length > 0) {
    console.log(
      `axe: ${label}\n` +
        JSON.stringify(
          bad.map((v) => ({
            id: v.id,
            impact: v.impact,
            help: v.help,
            nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })),
          })),
          null,
          2,
        ),
    );
  }
  expect(bad, `serious/critical axe violations in ${label}`).toEqual([]);
}

/** Light and dark: axe, a check that the theme applies, and a full-page screenshot of each. */
async function bothThemes(p: Page, name: string) {
  for (const theme of ['light', 'dark'] as const) {
    await p.emulateMedia({ colorScheme: theme });
    await expect
      .poll(() => p.evaluate(() => getComputedStyle(document.body).backgroundColor))
      .toBe(theme === 'dark' ? 'rgb(24, 24, 27)' : 'rgb(255, 255, 255)');
    await axeCheck(p, `${name} (${theme})`);
    await p.screenshot({ path: screenshotPath(`${name}-${theme}`), fullPage: true });
  }
  await p.emulateMedia({ colorScheme: 'light' });
}

async function signIn(p: Page, userId: string) {
  await p.getByLabel('Local user id').fill(userId);
  await p.getByRole('button', { name: 'Sign in as a local user' }).click();
  await p.getByTestId('balance').waitFor(WAIT);
}

/** The bar's drawn width agrees with the percentage it states. */
async function barAgrees(p: Page): Promise<number> {
  const bar = p.getByTestId('bar');
  const pct = Number(await bar.getAttribute('data-pct'));
  const [fill, whole] = await bar.evaluate((el) => [
    (el.firstElementChild as HTMLElement).getBoundingClientRect().width,
    el.getBoundingClientRect().width,
  ]);
  expect(Math.abs(fill! / whole! - pct / 100)).toBeLessThan(0.01);
  expect(await bar.getAttribute('aria-valuenow')).toBe(String(pct));
  return pct;
}

beforeAll(async () => {
  b = await startBillingStack();
  const outRoot = join(ROOT, 'test-results/e2e-popup');
  rmSync(outRoot, { recursive: true, force: true });
  mkdirSync(outRoot, { recursive: true });
  const dir = await buildExtension({ REDRAFT_API_URL: b.stack.api }, outRoot);
  site = await serveTestSite();
  ext = await launchWithExtension(dir);
  await ext.context.grantPermissions(['clipboard-read', 'clipboard-write']); // (an extension origin cannot be named: opaque to the protocol)
  page = await ext.context.newPage();
  await page.goto(site.url);
}, 120_000);

afterAll(async () => {
  writeFileSync(
    join(ROOT, 'test-results/popup-axe.json'),
    JSON.stringify(
      {
        axeVersion: JSON.parse(readFileSync(join(ROOT, 'node_modules/axe-core/package.json'), 'utf8')).version,
        injectedWith: [...injection],
        states: figures,
      },
      null,
      2,
    ),
  );
  await ext?.close().catch(() => {});
  await site?.close().catch(() => {});
  await b?.close().catch(() => {});
});

describe('popup and options: clarity, dark mode, accessibility (Chromium, billing stand-in)', () => {
  it('signed out', async () => {
    const popup = await openPopup(ext);
    await popup.getByLabel('Local user id').waitFor(WAIT);
    await bothThemes(popup, 'popup-signed-out');
    await popup.close();
  });

  it('free at 82%: tokens left is the headline, amber, no overage line, Upgrade with the price the API states', async () => {
    await seedUsage(b.stack, FREE_USER, FREE_SEEDED, Date.now());
    const popup = await openPopup(ext);
    await signIn(popup, FREE_USER);
    expect(await popup.getByTestId('plan').textContent()).toBe('Free plan');
    expect(num(await popup.getByTestId('remaining').textContent())).toBe(PLANS.free.includedTokens - FREE_SEEDED);
    expect(await popup.getByTestId('headline').textContent()).toBe('3,600 tokens left of 20,000');
    expect(await popup.getByTestId('bar-label').textContent()).toBe('16,400 of 20,000 used (82%)');
    expect(await barAgrees(popup)).toBe(82);
    expect(await popup.getByTestId('bar').getAttribute('class')).toContain('bar-warn');
    for (const id of ['overage-used', 'overage-cost', 'then', 'used-line', 'spending-cap', 'cap-note'])
      expect(await popup.getByTestId(id).count(), id).toBe(0);
    expect(await popup.getByText(/overage so far/i).count()).toBe(0);

    const offer = (await usageOf(FREE_USER)).proPlan;
    expect(offer.monthlyPriceUsd).toBe(PRO.baseUsdPerMonth);
    await popup.getByRole('button', { name: `Upgrade to Pro · $${offer.monthlyPriceUsd}/month` }).waitFor(WAIT);
    expect(await popup.getByTestId('upgrade-offer').textContent()).toBe(
      '$20 a month for 500,000 tokens, then $0.002 per 1,000 tokens up to a spending cap you choose (at most $50 a month).',
    );
    expect(await badge()).toEqual({ text: '82%', color: expect.anything() });
    expect(rgb((await badge()).color)).toBe('#b45309');
    await bothThemes(popup, 'popup-free');
    await popup.close();
  });

  let result = '';
  it('recent rewrites: a completed rewrite is kept on this device, reopens with its full result and copies it; Clear forgets it', async () => {
    const u = ui(page);
    await page.bringToFront();
    await selectFirstLine(page, page.locator('#ta'));
    await openToolbar(page);
    await u.action('rewrite').click();
    result = await finished(page);
    expect(result.length).toBeGreaterThan(0);
    await u.cmd('close').click();

    // Kept in chrome.storage.local only: the input's start and the result.
    await expect
      .poll(
        async () =>
          (
            (await ext.worker.evaluate(() => chrome.storage.local.get('recentRewrites'))).recentRewrites as
              | unknown[]
              | undefined
          )?.length ?? 0,
        WAIT,
      )
      .toBe(1);
    const stored = (await ext.worker.evaluate(() => chrome.storage.local.get('recentRewrites'))).recentRewrites as {
      action: string;
      text: string;
      result: string;
      requestId: string;
    }[];
    expect(stored[0]).toMatchObject({
      action: 'rewrite',
      text: 'Our shoes are good and you should buy them.',
      result,
      requestId: expect.stringMatching(/^rd_/),
    });

    const popup = await openPopup(ext);
    await popup.getByTestId('recent').waitFor(WAIT);
    const first = popup.getByTestId('recent').locator('li').first();
    expect(await first.textContent()).toContain('Rewrite');
    expect(await first.locator('.preview').textContent()).toBe(result.slice(0, 120));
    // The API's list knows the same rewrite (its tokens); the seeded usage has no text here.
    expect(num(await first.locator('.tokens').textContent())).toBeGreaterThan(0);
    expect(await popup.getByTestId('recent').locator('button.item').count()).toBe(1);

    await first.getByRole('button').click();
    await popup.getByTestId('recent-detail').waitFor(WAIT);
    expect(await popup.getByTestId('recent-result').textContent()).toBe(result);
    await popup.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => popup.getByTestId('copy-status').textContent(), WAIT).toBe('Copied');
    expect(await popup.evaluate(() => navigator.clipboard.readText())).toBe(result);
    await bothThemes(popup, 'popup-recent-detail');

    await popup.getByRole('button', { name: 'Back' }).click();
    await popup.getByRole('button', { name: 'Clear' }).click();
    await expect.poll(() => popup.getByTestId('recent').locator('button.item').count(), WAIT).toBe(0);
    expect(await popup.getByRole('button', { name: 'Clear' }).count()).toBe(0);
    expect(
      (await ext.worker.evaluate(() => chrome.storage.local.get('recentRewrites'))).recentRewrites,
    ).toBeUndefined();
    // The API's record of the rewrite (tokens only) stays.
    expect(await popup.getByTestId('recent').locator('li').count()).toBeGreaterThanOrEqual(2);
    await popup.close();
  });

  it('sign-out forgets the kept texts; Pro within the included tokens: the included allowance is the headline, calm', async () => {
    // One more kept rewrite, so there is something for sign-out to forget.
    const u = ui(page);
    await page.bringToFront();
    await selectFirstLine(page, page.locator('#ta'));
    await openToolbar(page);
    await u.action('shorten').click();
    await finished(page);
    await u.cmd('close').click();
    await expect
      .poll(
        async () =>
          (
            (await ext.worker.evaluate(() => chrome.storage.local.get('recentRewrites'))).recentRewrites as
              | unknown[]
              | undefined
          )?.length ?? 0,
        WAIT,
      )
      .toBe(1);

    await subscribeDirect(b, PRO_USER);
    await seedUsage(b.stack, PRO_USER, 120_000, Date.now());
    const popup = await openPopup(ext);
    await popup.getByRole('button', { name: 'Sign out' }).click();
    await popup.getByLabel('Local user id').waitFor(WAIT);
    expect(
      (await ext.worker.evaluate(() => chrome.storage.local.get('recentRewrites'))).recentRewrites,
    ).toBeUndefined();
    await signIn(popup, PRO_USER);
    expect(await popup.getByTestId('plan').textContent()).toBe('Pro plan');
    expect(await popup.getByTestId('headline').textContent()).toBe('380,000 tokens left of the included 500,000');
    expect(num(await popup.getByTestId('remaining').textContent())).toBe(PRO.includedTokens - 120_000); // not the 25.5 M cap
    expect(await popup.getByTestId('bar-label').textContent()).toBe('120,000 of 500,000 included used (24%)');
    expect(await barAgrees(popup)).toBe(24);
    expect(await popup.getByTestId('bar').getAttribute('class')).toContain('bar-ok');
    expect(await popup.getByTestId('then').textContent()).toBe(
      'Then $0.002 per 1,000 tokens, up to 25,000,000 more (your spending cap).',
    );
    expect(await popup.getByRole('button', { name: /Upgrade/ }).count()).toBe(0);
    await popup.getByRole('button', { name: 'Manage billing' }).waitFor(WAIT);
    expect(await popup.getByTestId('recent').locator('button.item').count()).toBe(0);
    // The user's own spending cap: the plan's maximum until changed; a lower one moves the hard cap at once.
    const cap = popup.getByTestId('spending-cap');
    await cap.waitFor(WAIT);
    expect(await popup.getByTestId('spending-cap-value').textContent()).toBe('$50.00');
    await cap.getByRole('button', { name: 'Change' }).click();
    await popup.getByLabel(/Spending cap on overage/).fill('10');
    await cap.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => popup.getByTestId('spending-cap-value').textContent(), WAIT).toBe('$10.00');
    const usageNow = async () =>
      (await (
        await fetch(`${b.stack.api}/v1/usage`, {
          headers: { Authorization: `Bearer ${await b.stack.token(PRO_USER)}` },
        })
      ).json()) as UsageResponse;
    const capped = await usageNow();
    expect(capped.overageCapUsd).toBe(10);
    expect(capped.hardCapTokens).toBe(PRO.includedTokens + 10 * (1000 / PRO.overageUsdPer1k));
    await cap.getByRole('button', { name: 'Change' }).click();
    await cap.getByRole('button', { name: /Use the maximum/ }).click();
    await expect.poll(() => popup.getByTestId('spending-cap-value').textContent(), WAIT).toBe('$50.00');
    expect((await usageNow()).overageCapUsd).toBe(50);
    expect(await popup.getByTestId('spending-cap-error').count()).toBe(0);
    expect((await badge()).text).toBe('');
    await bothThemes(popup, 'popup-pro');
    await popup.close();
  });

  it('Pro in overage: "125,000 tokens over the included 500,000 · $0.25 so far", calm; the bar and its % are the share of the spending cap', async () => {
    await seedUsage(b.stack, PRO_USER, 505_000, Date.now()); // 625,000 in all
    const popup = await openPopup(ext);
    await popup.getByTestId('balance').waitFor(WAIT);
    expect(await popup.getByTestId('headline').textContent()).toBe(
      '125,000 tokens over the included 500,000 · $0.25 so far',
    );
    expect((await usageOf(PRO_USER)).estimatedOverageUsd).toBe(0.25);
    expect(await popup.getByTestId('bar-label').textContent()).toBe(
      '0% of your spending cap used · 24,875,000 tokens left',
    );
    expect(await barAgrees(popup)).toBe(0);
    expect(await popup.getByTestId('used-line').textContent()).toBe(
      '625,000 used this period: 500,000 included, then 125,000 billed as overage at $0.002 per 1,000.',
    );
    expect(await popup.getByTestId('bar').getAttribute('class')).toContain('bar-ok');
    expect(await popup.getByTestId('cap-note').count()).toBe(0);
    expect(await popup.locator('.alert-danger').count()).toBe(0);
    expect(await popup.getByText(/125%|%\)/).count()).toBe(0); // no "125 %" of the included tokens anywhere
    expect((await badge()).text).toBe(''); // no red "!" for normal paid overage
    await bothThemes(popup, 'popup-pro-overage');
    await popup.close();
  });

  it('Pro near the spending cap (>= 90% of the hard cap): red bar, a sentence, red badge; reached: "!"', async () => {
    await b.stack.db.hset(keys.quota(PRO_USER), 'used', String(23_000_000));
    let popup = await openPopup(ext);
    await popup.getByTestId('balance').waitFor(WAIT);
    expect(await popup.getByTestId('bar-label').textContent()).toBe(
      '90% of your spending cap used · 2,500,000 tokens left',
    );
    expect(await barAgrees(popup)).toBe(90);
    expect(await popup.getByTestId('bar').getAttribute('class')).toContain('bar-danger');
    expect(await popup.getByTestId('cap-note').textContent()).toMatch(
      /^Close to your spending cap: 2,500,000 tokens left this period, then rewrites stop until it resets on \w{3} \d{1,2}\.$/,
    );
    await expect.poll(async () => (await badge()).text, WAIT).toBe('90%');
    expect(rgb((await badge()).color)).toBe('#dc2626');
    await bothThemes(popup, 'popup-pro-cap-near');
    await popup.close();

    await b.stack.db.hset(keys.quota(PRO_USER), 'used', String(PRO.hardCapTokens));
    popup = await openPopup(ext);
    await popup.getByTestId('balance').waitFor(WAIT);
    expect(await popup.getByTestId('cap-note').textContent()).toMatch(/^Spending cap reached/);
    expect(await barAgrees(popup)).toBe(100);
    await expect.poll(async () => (await badge()).text, WAIT).toBe('!');
    await popup.close();
  });

  it('options page, light and dark', async () => {
    const opts = await ext.context.newPage();
    await opts.goto(`chrome-extension://${ext.id}/options.html`);
    await expect
      .poll(() => opts.getByTestId('options-user').textContent(), WAIT)
      .toMatch(new RegExp(`Signed in as ${PRO_USER}`));
    await bothThemes(opts, 'options');
    // The status line (an error and a success) in both themes too.
    await opts.getByLabel('API address').fill('http://api.example.com');
    await opts.getByRole('button', { name: 'Save', exact: true }).click();
    await opts.getByTestId('options-status').waitFor(WAIT);
    await bothThemes(opts, 'options-error');
    await opts.close();
  });
});
