/**
 * The extension end to end in real Chromium (Debian `chromium` + playwright-core, headless), against the local
 * API stack (real redis-server, Upstash bridge, model stand-in, API with dev auth): build the extension, select
 * text in a textarea, a contenteditable and plain page text, run actions, watch the result stream, Replace,
 * undo with the page's own undo, and watch the popup's balance go down by exactly what the API charged.
 *
 * Screenshots of the toolbar, the result panel and the popup go to test-results/screenshots/.
 */
import { keys } from '../../api/metering/keys';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
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
  runtime: {
    getManifest(): {
      manifest_version: number;
      host_permissions?: string[];
      permissions?: string[];
      commands?: Record<string, { suggested_key?: unknown }>;
    };
  };
  action: { getBadgeText(details: object): Promise<string> };
  tabs: {
    query(q: { url: string }): Promise<{ id?: number }[]>;
    sendMessage(tabId: number, msg: unknown, opts?: { frameId: number }): Promise<unknown>;
  };
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
    if (
      page &&
      (await ui(page)
        .panel.isVisible()
        .catch(() => false))
    )
      await ui(page)
        .cmd('close')
        .click()
        .catch(() => {});
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

  it("textarea: the result streams in, Replace inserts it, the page's own undo (Ctrl+Z) restores the original", async () => {
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
    const events = await page.evaluate(
      () => (window as unknown as { __events: { id: string; type: string; inputType: string }[] }).__events,
    );
    // Through the browser's editing pipeline (execCommand), as if typed: an `input` event with inputType insertText
    // (the setRangeText fallback would say insertReplacementText). Chromium fires no `beforeinput` for execCommand.
    expect(events).toEqual([{ id: 'ta', type: 'input', inputType: 'insertText' }]);
    // "Replaced" only once the field was read back.
    // The panel collapses to a chip by the text.
    await expect.poll(() => u.chipLabel.textContent()).toBe('Replaced');
    expect(await u.panel.isVisible()).toBe(false);
    await page.screenshot({ path: screenshotPath('5-replaced-textarea') });

    // The page's own undo stack has the replacement as one step; the chip follows it.
    await ta.focus();
    await page.keyboard.press('Control+z');
    await expect.poll(() => ta.inputValue()).toBe(original);
    await expect.poll(() => u.chipLabel.textContent(), WAIT).toBe('Undone in the field');
    expect(await u.chipCmd('replace').isVisible()).toBe(true);
    await u.chipCmd('close').click();
  });

  it("contenteditable: Replace, the panel's Undo restores the original, Replace again, Ctrl+Z restores it too", async () => {
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
    await expect.poll(() => u.chipLabel.textContent()).toBe('Replaced');

    await u.chipCmd('undo').click();
    await expect.poll(() => ce.locator('p').first().textContent()).toBe(firstPara);
    await expect.poll(() => u.note.textContent()).toMatch(/Original restored/);

    await u.cmd('replace').click();
    await expect.poll(() => ce.locator('p').first().textContent()).toBe(text);
    await expect.poll(() => u.chipLabel.textContent()).toBe('Replaced'); // read back before the user undoes it
    await ce.focus();
    await page.keyboard.press('Control+z');
    await expect.poll(() => ce.innerHTML()).toBe(originalHtml);
    await u.chipCmd('close').click();
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
    // X's own count against its limit; a one-line input has no line below to insert into.
    expect(await u.counter.textContent()).toMatch(/^\d+ \/ 280$/);
    expect(await u.cmd('insert').isVisible()).toBe(false);
    await u.cmd('replace').click();
    await expect.poll(() => input.inputValue()).toBe(original.replace(/store$/, text));
    await u.chipCmd('close').click();
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
    await stack.db.hset(keys.quota(USER), 'used', '16400'); // 82% of 20,000
    let popup = await openPopup();
    await popup.getByTestId('remaining').waitFor(WAIT);
    await expect.poll(badgeText, WAIT).toBe('82%');
    await popup.close();

    await stack.db.hset(keys.quota(USER), 'used', '20000');
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
    expect(await blocked.textContent()).toMatch(
      /You have used all your tokens for this period; they come back on [A-Z][a-z]{2} \d+\./,
    );
    expect(await u.action('rewrite').isDisabled()).toBe(true);
    await page.screenshot({ path: screenshotPath('9-toolbar-quota-exhausted') });
    await page.keyboard.press('Escape');
  });

  it('options page: validates the API URL and shows the signed-in user', async () => {
    const opts = await ext.context.newPage();
    await opts.goto(`chrome-extension://${ext.id}/options.html`);
    await expect
      .poll(() => opts.getByTestId('options-user').textContent(), WAIT)
      .toMatch(new RegExp(`Signed in as ${USER}`));
    const input = opts.getByLabel('API address');
    await input.fill('http://api.example.com');
    await opts.getByRole('button', { name: 'Save', exact: true }).click();
    await expect
      .poll(() => opts.getByTestId('options-status').textContent(), WAIT)
      .toMatch(/only allowed for this machine/);
    await input.fill(`${stack.api}/`);
    await opts.getByRole('button', { name: 'Save', exact: true }).click();
    await expect
      .poll(() => opts.getByTestId('options-status').textContent(), WAIT)
      .toMatch(/Saved .* answers \/health/);
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
    expect(
      await page.evaluate(
        () =>
          (document.activeElement as HTMLTextAreaElement).selectionEnd -
          (document.activeElement as HTMLTextAreaElement).selectionStart,
      ),
    ).toBeGreaterThan(0);
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
    await expect
      .poll(() => page.locator('[data-redraft="hint"]').textContent(), WAIT)
      .toMatch(/Redraft is off on 127\.0\.0\.1/);
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
    return body.messages
      .filter((m) => m.role === 'user')
      .map((m) => m.content)
      .join('\n');
  };
  const systemMessage = () =>
    (stack.model.lastRequestBody as { messages: { role: string; content: string }[] }).messages.find(
      (m) => m.role === 'system',
    )?.content ?? '';

  it('versions and instructions: say what you want, Try again adds a version (‹ 2/2 ›), Refine makes a new one from the shown one, Replace uses the shown one', async () => {
    await stack.db.hset(keys.quota(USER), 'used', '0'); // the badge test used the allowance up
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
    await expect.poll(() => u.chipLabel.textContent(), WAIT).toBe('Replaced');
    expect(await ta.inputValue()).toBe(original.replace(firstLine, v3));
    await ta.focus();
    await page.keyboard.press('Control+z');
    await expect.poll(() => ta.inputValue()).toBe(original);
    await u.chipCmd('close').click();
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
    expect(await u.panel.locator('.title').textContent()).toBe('Rewrite · Brand voice'); // the panel names the style used
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
    const focused = () =>
      page.evaluate(() => {
        const host = document.querySelector('redraft-selection');
        const el = host?.shadowRoot?.activeElement as HTMLElement | null | undefined;
        return el
          ? (el.dataset.action ?? el.dataset.option ?? el.dataset.cmd ?? el.dataset.redraft ?? el.tagName)
          : (document.activeElement?.id ?? null);
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

describe('results that fit and follow the text', () => {
  const TALL = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Long page</title>
<style>body { margin: 24px; } textarea, #ce { display: block; width: 560px; margin: 12px 0; padding: 6px; font-size: 15px; } #ce { border: 1px solid #999; }</style></head>
<body><div style="height: 320px">Top of a long article.</div>
<textarea id="ta" rows="4">Our shoes are good and you should buy them.
Keep this second line exactly as it is.</textarea>
<div id="ce" contenteditable="true"><p>This bag is nice and it has many pockets.</p><p>The second paragraph stays.</p></div>
<div style="height: 3000px">The rest of the article.</div></body></html>`;
  let tall: TestSite;
  let p: Page;
  const boxOf = async (loc: Locator) => (await loc.boundingBox())!;
  /** The selected line's box in the page (what the UI must not cover): the whole first paragraph is selected. */
  const selectionBox = async () => {
    const b = await boxOf(p.locator('#ce p').first());
    return { top: b.y, bottom: b.y + b.height };
  };

  beforeAll(async () => {
    tall = await serveTestSite(TALL);
    p = await ext.context.newPage();
    await p.setViewportSize({ width: 1000, height: 700 });
    await p.goto(tall.url);
  });
  let ready = false;
  beforeEach(async () => {
    // expect.poll runs inside a test only: the content script's first answer is awaited there.
    if (!ready) await contentScriptReady(p);
    ready = true;
  });
  afterAll(async () => {
    await p?.close().catch(() => {});
    await tall?.close().catch(() => {});
  });

  it('the button and the panel follow the selection when the page scrolls and resizes, never over it, never outside the viewport', async () => {
    const u = ui(p);
    const first = p.locator('#ce p').first();
    await first.click();
    await p.keyboard.press('Home');
    await p.keyboard.press('Shift+End');
    await u.button.waitFor({ state: 'visible', ...WAIT });
    const pill0 = await boxOf(u.button);
    await p.evaluate(() => window.scrollBy(0, 100));
    await expect.poll(async () => Math.round((await boxOf(u.button)).y), WAIT).toBe(Math.round(pill0.y - 100));

    await u.button.click();
    await u.toolbar.waitFor({ state: 'visible', ...WAIT });
    await u.action('rewrite').click();
    await finished(p);
    const sel0 = await selectionBox();
    const panel0 = await boxOf(u.panel);
    expect(panel0.y >= sel0.bottom || panel0.y + panel0.height <= sel0.top).toBe(true);
    await p.evaluate(() => window.scrollBy(0, 150));
    await expect.poll(async () => Math.round((await boxOf(u.panel)).y), WAIT).toBe(Math.round(panel0.y - 150));
    const sel1 = await selectionBox();
    const panel1 = await boxOf(u.panel);
    expect(panel1.y >= sel1.bottom || panel1.y + panel1.height <= sel1.top).toBe(true);

    // Scrolled far away: the panel stays whole at the viewport's edge; a smaller window keeps it inside.
    await p.evaluate(() => window.scrollBy(0, 1200));
    await expect.poll(async () => Math.round((await boxOf(u.panel)).y), WAIT).toBe(8);
    await p.evaluate(() => window.scrollTo(0, 0));
    await p.setViewportSize({ width: 640, height: 520 });
    await expect
      .poll(async () => {
        const b = await boxOf(u.panel);
        return b.x >= 0 && b.y >= 0 && b.x + b.width <= 640 && b.y + b.height <= 520;
      }, WAIT)
      .toBe(true);
    await p.setViewportSize({ width: 1000, height: 700 });
    await u.cmd('close').click();
  });

  it('Insert below adds the result as a new line under the selected one, verified; the chip follows and its Undo takes it out', async () => {
    const u = ui(p);
    const ta = p.locator('#ta');
    const original = await ta.inputValue();
    await selectFirstLine(p, ta);
    await openToolbar(p);
    await u.action('shorten').click();
    const text = await finished(p);
    await u.cmd('insert').click();
    const [line1, line2] = original.split('\n');
    await expect.poll(() => ta.inputValue(), WAIT).toBe(`${line1}\n${text.trim()}\n${line2}`);
    await expect.poll(() => u.chipLabel.textContent(), WAIT).toBe('Inserted below');
    await p.screenshot({ path: screenshotPath('12-inserted-below-chip') });
    expect(await axeOnRedraft(p)).toEqual([]); // the chip state too: no serious or critical violations
    // Show opens the whole panel again: it says what was done and offers the Undo.
    await u.chipCmd('expand').click();
    await u.panel.waitFor({ state: 'visible', ...WAIT });
    expect(await u.status.textContent()).toBe('Inserted');
    expect(await u.cmd('insert').isVisible()).toBe(false);
    await u.cmd('undo').click();
    await expect.poll(() => ta.inputValue(), WAIT).toBe(original);
    await expect.poll(() => u.note.textContent(), WAIT).toMatch(/Original restored/);
    await u.cmd('close').click();
  });

  it('an answer cut by the length cap says so and Continue writes the rest (the draft goes back as data, the text grows)', async () => {
    const u = ui(p);
    stack.model.setOptions({ outputTokens: 100_000, tokensPerSecond: 0, firstTokenDelayMs: 0 });
    try {
      await selectFirstLine(p, p.locator('#ta'));
      await openToolbar(p);
      await u.toolbar.locator('select[data-option="platform"]').selectOption('x');
      await u.action('social_post').click();
      const cut = await finished(p);
      await expect.poll(() => u.status.textContent(), WAIT).toBe('Cut off at the length limit');
      expect(await u.counter.textContent()).toMatch(/^\d+ \/ 280/);
      expect(await axeOnRedraft(p)).toEqual([]); // the cut-off state with its counter and Continue
      await u.cmd('continue').click();
      await expect.poll(() => u.status.textContent(), WAIT).toBe('Cut off at the length limit');
      const grown = (await u.result.textContent()) ?? '';
      expect(grown.startsWith(cut)).toBe(true);
      expect(grown.length).toBeGreaterThan(cut.length);
      const body = stack.model.lastRequestBody as { messages: { role: string; content: string }[] };
      expect(body.messages[1]!.content).toContain(`<draft>\n${cut}\n</draft>`);
      expect(await p.locator('[data-redraft="versions"]').isVisible()).toBe(false); // the same version grew
      await u.cmd('close').click();
    } finally {
      stack.model.setOptions({ outputTokens: 'echo', tokensPerSecond: 25, firstTokenDelayMs: 150 });
    }
  });

  it('on linkedin.com a social post defaults to LinkedIn and counts against its 3,000 characters', async () => {
    const li = await ext.context.newPage();
    await li.route('https://www.linkedin.com/**', (r) =>
      r.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: TALL }),
    );
    try {
      await li.goto('https://www.linkedin.com/feed/');
      await contentScriptReady(li);
      const u = ui(li);
      await selectFirstLine(li, li.locator('#ta'));
      await openToolbar(li);
      expect(await u.toolbar.locator('select[data-option="platform"]').inputValue()).toBe('linkedin');
      await u.action('social_post').click();
      await finished(li);
      expect(await u.panel.locator('.title').textContent()).toMatch(/^Social post · LinkedIn/); // (then the remembered style)
      expect(await u.counter.textContent()).toMatch(/^\d+ \/ 3,000$/);
      await u.cmd('close').click();
    } finally {
      await li.close();
    }
  });
});
