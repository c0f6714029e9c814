/**
 * The extension end to end in real Chromium (Debian `chromium` + playwright-core, headless), against the local
 * API stack (real redis-server, Upstash bridge, model stand-in, API with dev auth): build the extension, select
 * text in a textarea, a contenteditable and plain page text, run actions, watch the result stream, Replace,
 * undo with the page's own undo, and watch the popup's balance go down by exactly what the API charged.
 *
 * Screenshots of the toolbar, the result panel and the popup go to test-results/screenshots/.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ledgerOf, startStack, type Stack } from '../support/stack';
import {
  bundleSizes,
  buildExtension,
  contentScriptReady,
  finished,
  launchWithExtension,
  openToolbar,
  showOnPageText,
  axeOnRedraft,
  sendOpenToolbar,
  openPopup as openExtensionPopup,
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
  runtime: { getManifest(): { manifest_version: number; host_permissions?: string[]; permissions?: string[]; commands?: Record<string, { suggested_key?: unknown }> } };
  action: { getBadgeText(details: object): Promise<string> };
  tabs: { query(q: { url: string }): Promise<{ id?: number }[]>; sendMessage(tabId: number, msg: unknown, opts?: { frameId: number }): Promise<unknown> };
};

const USER = 'e2e_marketer';

let stack: Stack;
let ext: LoadedExtension;
let site: TestSite;
let page: Page;

/** What the API streams for this text and action, asked directly with another user (the stand-in is deterministic). */
async function expectedOutput(text: string, action: string, extra: Record<string, string> = {}): Promise<string> {
  const token = await stack.token('e2e_reference');
  const res = await stack.rewrite(token, { text, action, ...extra });
  expect(res.status).toBe(200);
  return res.text();
}

async function billedTokens(userId: string): Promise<number> {
  return (await ledgerOf(stack.db, userId)).reduce((n, e) => n + Number(e.billed ?? 0), 0);
}

const openPopup = () => openExtensionPopup(ext);

async function badgeText(): Promise<string> {
  return ext.worker.evaluate(() => chrome.action.getBadgeText({}));
}

beforeAll(async () => {
  stack = await startStack({ model: { tokensPerSecond: 25, firstTokenDelayMs: 150 } });
  const outRoot = join(ROOT, 'test-results/e2e-extension');
  rmSync(outRoot, { recursive: true, force: true });
  mkdirSync(outRoot, { recursive: true });
  // The build points at this stack's API (a loopback URL, so "Sign in as a local user" is offered).
  const dir = await buildExtension({ REDRAFT_API_URL: stack.api }, outRoot);
  writeFileSync(join(ROOT, 'test-results/extension-bundle-sizes.json'), JSON.stringify(bundleSizes(dir), null, 2));
  site = await serveTestSite();
  ext = await launchWithExtension(dir);
  await ext.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(site.url).origin });
  // These tests select plain page text too: turn that on (it is off by default; tests/e2e/in-page.test.ts checks the defaults).
  await showOnPageText(ext);
  page = await ext.context.newPage();
  await page.goto(site.url);
}, 120_000);

afterAll(async () => {
  await ext?.close().catch(() => {});
  await site?.close().catch(() => {});
  await stack?.close().catch(() => {});
});

describe('extension in Chromium', () => {
  afterEach(async () => {
    // A failed test must not leave its panel open for the next one.
    if (page && (await ui(page).panel.isVisible().catch(() => false))) await ui(page).cmd('close').click().catch(() => {});
  });

  it('loads the built extension with the API origin in host_permissions and no secret in the bundle', async () => {
    const manifest = await ext.worker.evaluate(() => chrome.runtime.getManifest());
    expect(manifest.manifest_version).toBe(3);
    expect(manifest.host_permissions).toContain('http://127.0.0.1/*');
    expect(manifest.commands?.['open-toolbar']?.suggested_key).toEqual({ default: 'Alt+Shift+R' });
    expect(manifest.permissions).toEqual(expect.arrayContaining(['storage', 'contextMenus']));
  });

  it('signed out: the toolbar says so before any click, with Sign in, and its actions are off', async () => {
    const u = ui(page);
    await page.locator('#plain').click({ clickCount: 3 });
    await openToolbar(page);
    const blocked = page.locator('[data-redraft="blocked"]');
    await blocked.waitFor({ state: 'visible', ...WAIT });
    expect(await blocked.textContent()).toMatch(/Sign in to Redraft to rewrite text\./);
    expect(await u.toolbar.locator('[data-cmd="blocked-next"]').textContent()).toBe('Sign in');
    expect(await u.action('rewrite').isDisabled()).toBe(true);
    // Page CSS (lime buttons, monospace, magenta divs) does not reach the shadow-root UI.
    const style = await u.action('rewrite').evaluate((b) => {
      const s = getComputedStyle(b);
      return { bg: s.backgroundColor, font: s.fontFamily, size: s.fontSize };
    });
    expect(style.bg).not.toBe('rgb(0, 255, 0)');
    expect(style.font).not.toMatch(/Courier/);
    expect(style.size).toBe('13px');
    await page.screenshot({ path: screenshotPath('1-toolbar-signed-out') });
    await page.keyboard.press('Escape');
    await u.toolbar.waitFor({ state: 'hidden', ...WAIT });
  });

  let remainingAtStart = 0;
  it('popup: "Sign in as a local user" through the background, then the balance', async () => {
    const popup = await openPopup();
    await popup.getByLabel('Local user id').fill(USER);
    await popup.getByRole('button', { name: 'Sign in as a local user' }).click();
    await popup.getByTestId('remaining').waitFor(WAIT);
    expect(await popup.getByTestId('user').textContent()).toContain(USER);
    remainingAtStart = Number((await popup.getByTestId('remaining').textContent())!.replace(/,/g, ''));
    expect(remainingAtStart).toBe(20_000); // a new free user
    expect(await popup.getByTestId('plan').textContent()).toMatch(/Free plan/);
    // No billing field in /v1/usage yet: Upgrade / Manage billing stay hidden.
    expect(await popup.getByRole('button', { name: /Upgrade|Manage billing/ }).count()).toBe(0);
    await popup.close();
  });

  it('textarea: the result streams in, Replace inserts it, the page\'s own undo (Ctrl+Z) restores the original', async () => {
    const u = ui(page);
    const ta = page.locator('#ta');
    const original = await ta.inputValue();
    const firstLine = original.split('\n')[0]!;
    await selectFirstLine(page, ta);
    await openToolbar(page);
    // One plain estimate; what is held while it runs only on hover.
    await u.action('rewrite').hover();
    await expect.poll(() => u.estimate.textContent()).toMatch(/^Rewrite: ~\d+ tokens$/);
    expect(await u.estimate.getAttribute('title')).toMatch(/Up to \d+ are held from your balance while it runs/);
    expect(await page.locator('[data-redraft="blocked"]').isVisible()).toBe(false);
    await page.screenshot({ path: screenshotPath('1-toolbar-textarea') });
    await u.action('rewrite').click();

    // Streaming: partial text is visible while Stop is still offered.
    await u.cmd('stop').waitFor({ state: 'visible', ...WAIT });
    await expect.poll(async () => ((await u.result.textContent()) ?? '').length, WAIT).toBeGreaterThan(0);
    const partial = (await u.result.textContent()) ?? '';
    const stillStreaming = await u.cmd('stop').isVisible();
    await page.screenshot({ path: screenshotPath('3-panel-streaming') });
    const text = await finished(page);
    if (stillStreaming) expect(text.length).toBeGreaterThan(partial.length);
    expect(text).toBe(await expectedOutput(firstLine, 'rewrite'));
    await u.cmd('replace').waitFor({ state: 'visible', ...WAIT });
    await page.screenshot({ path: screenshotPath('4-panel-result-textarea') });

    await page.evaluate(() => ((window as unknown as { __events: unknown[] }).__events = []));
    await u.cmd('replace').click();
    await expect.poll(() => ta.inputValue()).toBe(original.replace(firstLine, text));
    // The editing pipeline ran as if typed: beforeinput + input with inputType insertText (React/Draft listen to these).
    const events = await page.evaluate(() => (window as unknown as { __events: { id: string; type: string; inputType: string }[] }).__events);
    // Through the browser's editing pipeline (execCommand), as if typed: an `input` event with inputType insertText
    // (the setRangeText fallback would say insertReplacementText). Chromium fires no `beforeinput` for execCommand.
    expect(events).toEqual([{ id: 'ta', type: 'input', inputType: 'insertText' }]);
    // "Replaced" only once the field was read back.
    await expect.poll(() => u.note.textContent()).toMatch(/Replaced/);
    await page.screenshot({ path: screenshotPath('5-replaced-textarea') });

    // The page's own undo stack has the replacement as one step.
    await ta.focus();
    await page.keyboard.press('Control+z');
    await expect.poll(() => ta.inputValue()).toBe(original);
    await u.cmd('close').click();
  });

  it('contenteditable: Replace, the panel\'s Undo restores the original, Replace again, Ctrl+Z restores it too', async () => {
    const u = ui(page);
    const ce = page.locator('#ce');
    const originalHtml = await ce.innerHTML();
    const firstPara = 'This bag is nice and it has many pockets.';
    await selectFirstLine(page, ce.locator('p').first());
    await openToolbar(page);
    await u.toolbar.locator('select[data-option="tone"]').selectOption('friendly');
    await u.action('tone').click();
    const text = await finished(page);
    expect(text).toBe(await expectedOutput(firstPara, 'tone', { tone: 'friendly' }));
    expect(await u.panel.locator('.title').textContent()).toBe('Tone · Friendly');

    await u.cmd('replace').click();
    await expect.poll(() => ce.locator('p').first().textContent()).toBe(text);
    expect(await ce.locator('p').nth(1).textContent()).toBe('The second paragraph stays.');

    await u.cmd('undo').click();
    await expect.poll(() => ce.locator('p').first().textContent()).toBe(firstPara);
    await expect.poll(() => u.note.textContent()).toMatch(/Original restored/);

    await u.cmd('replace').click();
    await expect.poll(() => ce.locator('p').first().textContent()).toBe(text);
    await ce.focus();
    await page.keyboard.press('Control+z');
    await expect.poll(() => ce.innerHTML()).toBe(originalHtml);
    await u.cmd('close').click();
  });

  it('text input: social post for a platform; Replace keeps the rest of the value', async () => {
    const u = ui(page);
    const input = page.locator('#title');
    const original = await input.inputValue();
    await input.click();
    await page.keyboard.press('End');
    await page.keyboard.press('Control+Shift+ArrowLeft'); // select the last word: "store"
    await openToolbar(page);
    await u.toolbar.locator('select[data-option="platform"]').selectOption('x');
    await u.action('social_post').click();
    const text = await finished(page);
    expect(text).toBe(await expectedOutput('store', 'social_post', { platform: 'x' }));
    await u.cmd('replace').click();
    await expect.poll(() => input.inputValue()).toBe(original.replace(/store$/, text));
    await u.cmd('close').click();
  });

  it('plain page text: Copy only (no Replace); the clipboard gets the result', async () => {
    const u = ui(page);
    await page.locator('#plain').click({ clickCount: 3 });
    await openToolbar(page);
    await u.action('shorten').click();
    const text = await finished(page);
    expect(text.length).toBeGreaterThan(0);
    expect(await u.cmd('replace').isVisible()).toBe(false);
    expect(await u.status.textContent()).toMatch(/not editable/);
    await u.cmd('copy').click();
    await expect.poll(() => u.note.textContent()).toMatch(/Copied/);
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(text);
    await page.screenshot({ path: screenshotPath('6-panel-result-plain-text') });
    await u.cmd('close').click();
  });

  it('Stop, closing the panel and leaving the page abort the request: the model stream is cut and only what was generated is charged', async () => {
    const u = ui(page);
    stack.model.setOptions({ tokensPerSecond: 8, outputTokens: 200 });
    try {
      const abortedBefore = stack.model.stats.aborted;
      const ledgerBefore = (await ledgerOf(stack.db, USER)).length;

      await selectFirstLine(page, page.locator('#ta'));
      await openToolbar(page);
      await u.action('expand').click();
      await expect.poll(async () => ((await u.result.textContent()) ?? '').length, WAIT).toBeGreaterThan(0);
      await u.cmd('stop').click();
      await expect.poll(() => u.status.textContent(), WAIT).toBe('Stopped');
      expect(await u.cmd('replace').isVisible()).toBe(true); // a partial result may still be used

      // Try again, then close the panel mid-stream.
      await u.cmd('retry').click();
      await expect.poll(async () => ((await u.result.textContent()) ?? '').length, WAIT).toBeGreaterThan(0);
      await u.cmd('close').click();

      await expect.poll(() => stack.model.stats.aborted, WAIT).toBe(abortedBefore + 2);

      // Navigating away mid-stream (here: a reload) disconnects the port, which aborts the request too.
      await selectFirstLine(page, page.locator('#ta'));
      await openToolbar(page);
      await u.action('expand').click();
      await expect.poll(async () => ((await u.result.textContent()) ?? '').length, WAIT).toBeGreaterThan(0);
      await page.reload();
      await expect.poll(() => stack.model.stats.aborted, WAIT).toBe(abortedBefore + 3);
      await contentScriptReady(page);

      await expect.poll(async () => (await ledgerOf(stack.db, USER)).length, WAIT).toBe(ledgerBefore + 3);
      const events = (await ledgerOf(stack.db, USER)).slice(-3);
      for (const e of events) {
        expect(e.status).toBe('aborted');
        expect(Number(e.out)).toBeLessThan(200);
      }
    } finally {
      stack.model.setOptions({ tokensPerSecond: 25, outputTokens: 'echo' });
    }
  });

  it('the keyboard shortcut / context menu message opens the toolbar for the current selection', async () => {
    const u = ui(page);
    await page.locator('#plain').click({ clickCount: 3 });
    await openToolbar(page);
    await page.mouse.click(900, 700); // hide it, keep nothing selected
    await u.toolbar.waitFor({ state: 'hidden', ...WAIT });
    await page.evaluate(() => {
      const p = document.getElementById('plain')!;
      const r = document.createRange();
      r.selectNodeContents(p);
      getSelection()!.removeAllRanges();
      getSelection()!.addRange(r);
    });
    // What the command and context-menu handlers send to the tab.
    await sendOpenToolbar(ext, site.url, 'frame', 0);
    await u.toolbar.waitFor({ state: 'visible', ...WAIT }); // the shortcut opens the toolbar itself, no button first
    await page.keyboard.press('Escape');
  });

  it('popup: remaining tokens went down by exactly what the API charged; recent rewrites and daily chart', async () => {
    const charged = await billedTokens(USER);
    expect(charged).toBeGreaterThan(0);
    const popup = await openPopup();
    await popup.getByTestId('remaining').waitFor(WAIT);
    const remaining = Number((await popup.getByTestId('remaining').textContent())!.replace(/,/g, ''));
    expect(remaining).toBe(remainingAtStart - charged);
    expect(Number((await popup.getByTestId('used').textContent())!.replace(/,/g, ''))).toBe(charged);
    const recent = await popup.getByTestId('recent').locator('li').allTextContents();
    expect(recent.length).toBeGreaterThanOrEqual(5);
    expect(recent.join(' ')).toMatch(/Expand/);
    expect(await popup.getByTestId('chart').locator('rect').count()).toBeGreaterThan(0);
    await popup.screenshot({ path: screenshotPath('7-popup-balance'), fullPage: true });
    await popup.close();
  });

  it('badge: amber percentage from 80% of the included tokens, red "!" at 100%; a rewrite then explains the 402', async () => {
    await stack.db.hset(`rd:{${USER}}:quota`, 'used', '16400'); // 82% of 20,000
    let popup = await openPopup();
    await popup.getByTestId('remaining').waitFor(WAIT);
    await expect.poll(badgeText, WAIT).toBe('82%');
    await popup.close();

    await stack.db.hset(`rd:{${USER}}:quota`, 'used', '20000');
    popup = await openPopup();
    await popup.getByTestId('remaining').waitFor(WAIT);
    expect(await popup.getByTestId('remaining').textContent()).toBe('0');
    await expect.poll(badgeText, WAIT).toBe('!');
    await popup.screenshot({ path: screenshotPath('8-popup-exhausted'), fullPage: true });
    await popup.close();

    const u = ui(page);
    await page.bringToFront();
    await selectFirstLine(page, page.locator('#ta'));
    await openToolbar(page);
    // Known before the click: the toolbar says when the tokens come back, and the actions are off.
    const blocked = page.locator('[data-redraft="blocked"]');
    await blocked.waitFor({ state: 'visible', ...WAIT });
    expect(await blocked.textContent()).toMatch(/You have used all your tokens for this period; they come back on [A-Z][a-z]{2} \d+\./);
    expect(await u.action('rewrite').isDisabled()).toBe(true);
    await page.screenshot({ path: screenshotPath('9-toolbar-quota-exhausted') });
    await page.keyboard.press('Escape');
  });

  it('options page: validates the API URL and shows the signed-in user', async () => {
    const opts = await ext.context.newPage();
    await opts.goto(`chrome-extension://${ext.id}/options.html`);
    await expect.poll(() => opts.getByTestId('options-user').textContent(), WAIT).toMatch(new RegExp(`Signed in as ${USER}`));
    const input = opts.getByLabel('API address');
    await input.fill('http://api.example.com');
    await opts.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => opts.getByTestId('options-status').textContent(), WAIT).toMatch(/only allowed for this machine/);
    await input.fill(stack.api + '/');
    await opts.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => opts.getByTestId('options-status').textContent(), WAIT).toMatch(/Saved .* answers \/health/);
    await opts.close();
  });
});

describe('out of the way', () => {
  /** Lets a selection's events run their course (a negative check needs a moment to be meaningful). */
  const settle = () => page.waitForTimeout(400);

  afterAll(async () => {
    await showOnPageText(ext); // as the other tests expect
  });

  it('by default: a field selection shows only the small button; page text and a double-clicked word show nothing; "Off on this site" until the options page turns it back on', async () => {
    const u = ui(page);
    await showOnPageText(ext, false);
    await page.reload();
    await contentScriptReady(page);

    // Page text: nothing, unless turned on.
    await page.locator('#plain').click({ clickCount: 3 });
    await settle();
    expect(await u.button.isVisible()).toBe(false);
    expect(await u.toolbar.isVisible()).toBe(false);

    // A double-clicked word in a field: nothing.
    await page.locator('#ta').dblclick({ position: { x: 20, y: 12 } });
    await settle();
    expect(await page.evaluate(() => (document.activeElement as HTMLTextAreaElement).selectionEnd - (document.activeElement as HTMLTextAreaElement).selectionStart)).toBeGreaterThan(0);
    expect(await u.button.isVisible()).toBe(false);

    // A real selection in a field: the button beside it, not the toolbar; the button opens the toolbar.
    await selectFirstLine(page, page.locator('#ta'));
    await u.button.waitFor({ state: 'visible', ...WAIT });
    expect(await u.toolbar.isVisible()).toBe(false);
    const box = (await u.button.boundingBox())!;
    expect(box.width).toBeLessThanOrEqual(32);
    await page.screenshot({ path: screenshotPath('10-button-in-field') });
    await u.button.click();
    await u.toolbar.waitFor({ state: 'visible', ...WAIT });

    // Off on this site: selections show nothing, the shortcut still works.
    await u.toolbar.locator('[data-cmd="site-off"]').click();
    await expect.poll(() => page.locator('[data-redraft="hint"]').textContent(), WAIT).toMatch(/Redraft is off on 127\.0\.0\.1/);
    await selectFirstLine(page, page.locator('#ta'));
    await settle();
    expect(await u.button.isVisible()).toBe(false);
    await sendOpenToolbar(ext, site.url, 'focused');
    await u.toolbar.waitFor({ state: 'visible', ...WAIT });
    await page.keyboard.press('Escape');

    // The options page lists the site and turns it back on.
    const opts = await ext.context.newPage();
    await opts.goto(`chrome-extension://${ext.id}/options.html`);
    await opts.getByRole('button', { name: 'Turn Redraft back on for 127.0.0.1' }).click();
    await opts.getByText('No sites.').waitFor(WAIT);
    await opts.close();
    await page.bringToFront();
    await selectFirstLine(page, page.locator('#ta'));
    await u.button.waitFor({ state: 'visible', ...WAIT });
    await page.keyboard.press('Escape');
  });
});

describe('choice, styles, keyboard, dark mode', () => {
  const lastUserMessage = () => {
    const body = stack.model.lastRequestBody as { messages: { role: string; content: string }[] };
    return body.messages.filter((m) => m.role === 'user').map((m) => m.content).join('\n');
  };
  const systemMessage = () => (stack.model.lastRequestBody as { messages: { role: string; content: string }[] }).messages.find((m) => m.role === 'system')?.content ?? '';

  it('versions and instructions: say what you want, Try again adds a version (‹ 2/2 ›), Refine makes a new one from the shown one, Replace uses the shown one', async () => {
    await stack.db.hset(`rd:{${USER}}:quota`, 'used', '0'); // the badge test used the allowance up
    await page.bringToFront();
    await page.reload();
    await contentScriptReady(page);
    const u = ui(page);
    const ta = page.locator('#ta');
    const original = await ta.inputValue();
    const firstLine = original.split('\n')[0]!;
    await selectFirstLine(page, ta);
    await openToolbar(page);
    await u.toolbar.locator('[data-redraft="instruction"]').fill('make it punchier, for a CFO');
    await page.keyboard.press('Enter');
    const v1 = await finished(page);
    expect(lastUserMessage()).toContain('make it punchier, for a CFO');
    expect(systemMessage()).not.toContain('make it punchier');
    expect(await u.panel.locator('.title').textContent()).toMatch(/Rewrite · “make it punchier, for a CFO”/);
    expect(await page.locator('[data-redraft="versions"]').isVisible()).toBe(false);

    await u.cmd('retry').click();
    await finished(page);
    expect(lastUserMessage()).toContain('make it punchier, for a CFO'); // Try again keeps what was asked
    await expect.poll(() => page.locator('[data-redraft="version"]').textContent()).toBe('2/2');
    await u.cmd('prev').click();
    expect(await page.locator('[data-redraft="version"]').textContent()).toBe('1/2');
    expect(await u.result.textContent()).toBe(v1);

    const refine = u.panel.locator('[data-redraft="refine"]');
    await refine.fill('shorter');
    await refine.press('Enter');
    const v3 = await finished(page);
    expect(lastUserMessage()).toContain(v1); // refines the shown version's text
    expect(lastUserMessage()).toContain('shorter');
    expect(await page.locator('[data-redraft="version"]').textContent()).toBe('3/3');
    await page.screenshot({ path: screenshotPath('11-panel-versions') });

    await u.cmd('replace').click();
    await expect.poll(() => u.note.textContent(), WAIT).toMatch(/^Replaced/);
    expect(await ta.inputValue()).toBe(original.replace(firstLine, v3));
    await ta.focus();
    await page.keyboard.press('Control+z');
    await expect.poll(() => ta.inputValue()).toBe(original);
    await u.cmd('close').click();
  });

  it('styles: made in the options page, chosen in the toolbar, sent with the rewrite, remembered next time', async () => {
    const u = ui(page);
    const opts = await ext.context.newPage();
    await opts.goto(`chrome-extension://${ext.id}/options.html`);
    await opts.getByLabel('New style: name').fill('Brand voice');
    await opts.getByLabel('Instructions').fill('Warm and concise; we say customers, never users.');
    await opts.getByRole('button', { name: 'Save style' }).click();
    await expect.poll(() => opts.getByTestId('styles-status').textContent(), WAIT).toMatch(/Saved “Brand voice”/);
    expect(await opts.getByRole('list', { name: 'Your styles' }).textContent()).toContain('Brand voice');
    await opts.close();

    await page.bringToFront();
    await selectFirstLine(page, page.locator('#ta'));
    await openToolbar(page);
    const style = u.toolbar.locator('select[data-option="style"]');
    await style.waitFor({ state: 'visible', ...WAIT });
    await style.selectOption({ label: 'Brand voice' });
    await u.action('rewrite').click();
    await finished(page);
    expect(lastUserMessage()).toContain('Warm and concise; we say customers, never users.');
    await u.cmd('close').click();

    await selectFirstLine(page, page.locator('#ta'));
    await openToolbar(page);
    await expect.poll(() => style.inputValue(), WAIT).toBe('brand-voice');
    await page.keyboard.press('Escape');
  });

  it('keyboard: arrow keys, Home and End in the toolbar; the panel takes focus; Esc closes it, gives the field back its selection and never reaches the page', async () => {
    const u = ui(page);
    const ta = page.locator('#ta');
    await selectFirstLine(page, ta);
    const line = await ta.evaluate((el: HTMLTextAreaElement) => [el.selectionStart, el.selectionEnd]);
    await page.evaluate(() => ((window as unknown as { __escapes: number }).__escapes = 0));
    await sendOpenToolbar(ext, site.url, 'focused');
    await u.toolbar.waitFor({ state: 'visible', ...WAIT });
    const focused = () => page.evaluate(() => {
      const host = document.querySelector('redraft-selection');
      const el = host?.shadowRoot?.activeElement as HTMLElement | null | undefined;
      return el ? el.dataset.action ?? el.dataset.option ?? el.dataset.cmd ?? el.dataset.redraft ?? el.tagName : document.activeElement?.id ?? null;
    });
    await expect.poll(focused, WAIT).toBe('rewrite');
    await page.keyboard.press('ArrowRight');
    expect(await focused()).toBe('shorten');
    await page.keyboard.press('End');
    expect(await focused()).not.toBe('shorten');
    await page.keyboard.press('Home');
    expect(await focused()).toBe('rewrite');
    // One tab stop: Tab leaves the row (to the instruction field).
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('instruction');
    await page.keyboard.press('Shift+Tab');
    expect(await focused()).toBe('rewrite');

    await page.keyboard.press('Enter');
    await u.panel.waitFor({ state: 'visible', ...WAIT });
    await finished(page);
    await expect.poll(focused, WAIT).toBe('replace');
    expect(await page.locator('[data-redraft="live"]').textContent()).toMatch(/^Done: ./);
    expect(await axeOnRedraft(page)).toEqual([]);

    await page.keyboard.press('Escape');
    await u.panel.waitFor({ state: 'hidden', ...WAIT });
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('ta');
    expect(await ta.evaluate((el: HTMLTextAreaElement) => [el.selectionStart, el.selectionEnd])).toEqual(line);
    expect(await page.evaluate(() => (window as unknown as { __escapes: number }).__escapes)).toBe(0);
  });

  it('dark mode: dark under prefers-color-scheme: dark and on a dark part of a light page; no serious accessibility violations in either', async () => {
    const u = ui(page);
    const cardBackground = () => u.toolbar.evaluate((el) => getComputedStyle(el).backgroundColor);
    const lum = (rgb: string) => {
      const [r, g, b] = (rgb.match(/\d+/g) ?? []).map(Number);
      return (0.2126 * r! + 0.7152 * g! + 0.0722 * b!) / 255;
    };
    await selectFirstLine(page, page.locator('#ta'));
    await openToolbar(page);
    expect(lum(await cardBackground())).toBeGreaterThan(0.9);
    await page.keyboard.press('Escape');

    await page.emulateMedia({ colorScheme: 'dark' });
    try {
      await selectFirstLine(page, page.locator('#ta'));
      await openToolbar(page);
      expect(lum(await cardBackground())).toBeLessThan(0.2);
      expect(await axeOnRedraft(page)).toEqual([]);
      await page.screenshot({ path: screenshotPath('12-toolbar-dark-scheme') });
      await page.keyboard.press('Escape');
    } finally {
      await page.emulateMedia({ colorScheme: 'light' });
    }

    await selectFirstLine(page, page.locator('#dark'));
    await openToolbar(page);
    expect(lum(await cardBackground())).toBeLessThan(0.2);
    await u.action('rewrite').click();
    await finished(page);
    expect(await axeOnRedraft(page)).toEqual([]);
    await page.screenshot({ path: screenshotPath('13-panel-on-dark-page') });
    await u.cmd('close').click();
  });
});

describe('a finished panel and a new selection', () => {
  it('selecting other text while a result is shown closes the panel and offers Redraft for the new selection', async () => {
    const u = ui(page);
    await selectFirstLine(page, page.locator('#ta'));
    await openToolbar(page);
    await u.action('shorten').click();
    await finished(page);
    // The panel may cover the next field: reach it from the keyboard, as a user tabbing there would.
    await page.locator('#dark').focus();
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('Shift+End');
    await u.button.waitFor({ state: 'visible', ...WAIT });
    expect(await u.panel.isVisible()).toBe(false);
    await page.keyboard.press('Escape');
  });
});
