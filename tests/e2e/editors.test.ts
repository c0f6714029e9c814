/**
 * Replace inside the editors marketers use, with the built extension in real Chromium, on pages built from
 * the real editor packages (tests/e2e/editors/, pinned devDependencies, bundled once per run), including
 * editors in same-origin, srcdoc, nested and cross-origin frames.
 *
 * For each case: select a sentence in the middle of a paragraph, rewrite it, press Replace, and read the
 * EDITOR'S OWN MODEL (its API, never the DOM): the sentence is replaced and the text around it intact; the
 * editor's change listeners fired (a "Post" button enabled); the editor's own undo (Ctrl+Z in the field)
 * brings the original back in one step and the panel notices; the panel's Undo does too; typing afterwards
 * lands right after the inserted text; no console errors. The toolbar opens next to the selection in the
 * top page, whatever frame the selection is in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Frame, Page } from 'playwright-core';
import { startStack, type Stack } from '../support/stack';
import {
  buildExtension,
  finished,
  launchWithExtension,
  openPopup,
  ROOT,
  screenshotPath,
  sendOpenToolbar,
  ui,
  WAIT,
  type LoadedExtension,
} from './helpers';
import { buildEditorPages } from './editors/build';
import { serveEditorSite, type EditorSite } from './editors/server';
import {
  changes,
  EDITOR_CASES,
  editorFrame,
  initialText,
  modelText,
  postButton,
  selectText,
  waitReady,
  type EditorCase,
} from './editors/fixtures';

const SENTENCE = 'The middle sentence is plain and dull.';
const USER = 'e2e_editors';

let stack: Stack;
let ext: LoadedExtension;
let site: EditorSite;
let page: Page;
const problems: string[] = [];
/** case → the adapter/strategy the editor took (printed as the matrix at the end). */
const how: Record<string, string> = {};

async function expectedOutput(text: string): Promise<string> {
  const res = await stack.rewrite(await stack.token('e2e_editors_reference'), { text, action: 'rewrite' });
  expect(res.status).toBe(200);
  return res.text();
}

/** Selects the sentence until the Redraft button answers (the content script arrives at document_idle), then opens the toolbar. */
async function selectUntilToolbar(c: EditorCase) {
  await expect
    .poll(async () => {
      await selectText(page, c, SENTENCE);
      return ui(page).button.isVisible();
    }, WAIT)
    .toBe(true);
  await ui(page).button.click();
  await ui(page).toolbar.waitFor({ state: 'visible', ...WAIT });
}

/** The selection's (or the field's) box in the top page's viewport, through every frame of the case. */
async function anchorInPage(c: EditorCase): Promise<{ left: number; top: number; bottom: number }> {
  const frame = await editorFrame(page, c);
  const box = await frame.evaluate(
    ({ field, kind }) => {
      if (kind !== 'rich') {
        const r = document.querySelector(field)!.getBoundingClientRect();
        return { left: r.left, top: r.top, bottom: r.bottom };
      }
      const r = getSelection()!.getRangeAt(0).getBoundingClientRect();
      return { left: r.left, top: r.top, bottom: r.bottom };
    },
    { field: c.field, kind: c.kind },
  );
  let x = 0;
  let y = 0;
  for (let f: Frame | null = frame; f?.parentFrame(); f = f.parentFrame()) {
    const el = await f.frameElement();
    const o = await el.evaluate((node) => {
      const iframe = node as HTMLIFrameElement;
      const r = iframe.getBoundingClientRect();
      const s = getComputedStyle(iframe);
      return {
        x: r.left + iframe.clientLeft + parseFloat(s.paddingLeft),
        y: r.top + iframe.clientTop + parseFloat(s.paddingTop),
      };
    });
    x += o.x;
    y += o.y;
  }
  return { left: box.left + x, top: box.top + y, bottom: box.bottom + y };
}

beforeAll(async () => {
  const out = join(ROOT, 'test-results/e2e-editors');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  stack = await startStack({ model: { tokensPerSecond: 0 } });
  const [dir] = await Promise.all([
    buildExtension({ REDRAFT_API_URL: stack.api }, join(out, 'ext')),
    buildEditorPages(join(out, 'site')),
  ]);
  site = await serveEditorSite(join(out, 'site'));
  ext = await launchWithExtension(dir);
  const popup = await openPopup(ext);
  await popup.getByLabel('Local user id').fill(USER);
  await popup.getByRole('button', { name: 'Sign in as a local user' }).click();
  await popup.getByTestId('remaining').waitFor(WAIT);
  await popup.close();
  page = await ext.context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
}, 180_000);

afterAll(async () => {
  console.log(
    `editor → strategy taken:\n${Object.entries(how)
      .map(([k, v]) => `  ${k.padEnd(20)} ${v}`)
      .join('\n')}`,
  );
  await ext?.close().catch(() => {});
  await site?.close().catch(() => {});
  await stack?.close().catch(() => {});
});

describe('Replace in real editors', () => {
  for (const c of EDITOR_CASES) {
    it(`${c.id}: the editor's model takes the text; its own undo, the panel's Undo and typing afterwards work`, async () => {
      const u = ui(page);
      problems.length = 0;
      await page.goto(site.url + c.path);
      await waitReady(page, c);
      const original = await modelText(page, c);
      expect(original).toBe(initialText(c));
      expect(original).toContain(SENTENCE);
      const rewritten = await expectedOutput(SENTENCE);
      const replaced = original.replace(SENTENCE, rewritten);

      // The toolbar appears in the top page, next to the selection (below it, or above when there is no room).
      await selectUntilToolbar(c);
      const anchor = await anchorInPage(c);
      const bar = (await u.toolbar.boundingBox())!;
      expect(bar.y >= anchor.bottom - 1 ? bar.y - anchor.bottom : anchor.top - (bar.y + bar.height)).toBeLessThan(40);
      expect(Math.abs(bar.x - Math.max(8, anchor.left))).toBeLessThan(40);
      await page.screenshot({ path: screenshotPath(`editor-${c.id}-toolbar`) });

      await u.action('rewrite').click();
      expect(await finished(page)).toBe(rewritten);
      const changesBefore = await changes(page, c);

      // Replace: the model holds the new sentence, the rest intact; the editor's change listeners fired.
      await u.cmd('replace').click();
      await expect.poll(() => u.chipLabel.textContent(), WAIT).toBe('Replaced');
      expect(await modelText(page, c)).toBe(replaced);
      how[c.id] = (await u.chip.getAttribute('data-how')) ?? '?';
      expect(await changes(page, c)).toBeGreaterThan(changesBefore);
      expect(await (await postButton(page, c)).isEnabled()).toBe(true);
      await page.screenshot({ path: screenshotPath(`editor-${c.id}-replaced`) });

      // The editor's own undo, one press with the focus in the field; the panel sees the original is back.
      await page.keyboard.press('Control+z');
      await expect.poll(() => modelText(page, c), WAIT).toBe(original);
      await expect.poll(() => u.chipLabel.textContent(), WAIT).toBe('Undone in the field');

      // Replace again from the chip, then the chip's Undo (verified the same way): the panel is back.
      await u.chipCmd('replace').click();
      await expect.poll(() => u.chipLabel.textContent(), WAIT).toBe('Replaced');
      expect(await modelText(page, c)).toBe(replaced);
      await u.chipCmd('undo').click();
      await expect.poll(() => u.note.textContent(), WAIT).toMatch(/Original restored/);
      expect(await modelText(page, c)).toBe(original);

      // Replace once more and type: the keys land right after the inserted text.
      await u.cmd('replace').click();
      await expect.poll(() => u.chipLabel.textContent(), WAIT).toBe('Replaced');
      await page.keyboard.type(' Yes');
      await expect.poll(() => modelText(page, c), WAIT).toBe(original.replace(SENTENCE, `${rewritten} Yes`));
      await expect.poll(() => u.chipLabel.textContent(), WAIT).toBe('Replaced · edited since');

      expect(problems).toEqual([]);
      await u.chipCmd('close').click();
    });
  }
});

describe('a multi-line result in each editor', () => {
  const LINES = ['Line', ' one', '.', '\n', 'Line', ' two', '.'];
  for (const c of EDITOR_CASES) {
    it(`${c.id}: two lines replace the sentence (a line break in rich editors and textareas, a space in inputs); Ctrl+Z restores`, async () => {
      const u = ui(page);
      problems.length = 0;
      stack.model.setOptions({ script: LINES });
      try {
        await page.goto(site.url + c.path);
        await waitReady(page, c);
        const original = await modelText(page, c);
        await selectUntilToolbar(c);
        await u.action('rewrite').click();
        expect(await finished(page)).toBe('Line one.\nLine two.');
        await u.cmd('replace').click();
        await expect.poll(() => u.chipLabel.textContent(), WAIT).toBe('Replaced');
        how[`${c.id} (2 lines)`] = (await u.chip.getAttribute('data-how')) ?? '?';
        const lines = c.kind === 'input' ? 'Line one. Line two.' : 'Line one.\nLine two.';
        expect(await modelText(page, c)).toBe(original.replace(SENTENCE, lines));
        await page.keyboard.press('Control+z');
        await expect.poll(() => modelText(page, c), WAIT).toBe(original);
        expect(problems).toEqual([]);
        await u.chipCmd('close').click();
      } finally {
        stack.model.setOptions({ script: null });
      }
    });
  }
});

describe('Insert below in each editor', () => {
  for (const c of EDITOR_CASES.filter((e) => e.kind !== 'input')) {
    it(`${c.id}: the result becomes a new paragraph after the selected one, the selection's text stays; one Ctrl+Z takes it out`, async () => {
      const u = ui(page);
      problems.length = 0;
      await page.goto(site.url + c.path);
      await waitReady(page, c);
      const original = await modelText(page, c);
      const rewritten = await expectedOutput(SENTENCE);
      await selectUntilToolbar(c);
      await u.action('rewrite').click();
      expect(await finished(page)).toBe(rewritten);
      await u.cmd('insert').click();
      await expect.poll(() => u.chipLabel.textContent(), WAIT).toBe('Inserted below');
      how[`${c.id} (insert below)`] = (await u.chip.getAttribute('data-how')) ?? '?';
      // SENTENCE is in the last paragraph: the new one follows it.
      expect(await modelText(page, c)).toBe(`${original}\n${rewritten}`);
      await page.keyboard.press('Control+z');
      await expect.poll(() => modelText(page, c), WAIT).toBe(original);
      await expect.poll(() => u.chipLabel.textContent(), WAIT).toBe('Undone in the field');
      expect(problems).toEqual([]);
      await u.chipCmd('close').click();
    });
  }
});

/** The extension APIs as used inside `worker.evaluate` (which runs in the service worker, not here). */
declare const chrome: {
  tabs: {
    query(q: { url: string }): Promise<{ id?: number }[]>;
    sendMessage(tabId: number, msg: unknown, opts?: { frameId: number }): Promise<unknown>;
  };
  runtime: {
    onMessage: { addListener(fn: (m: { type?: string }, s: { frameId?: number; url?: string }) => undefined): void };
  };
};

describe('where Replace cannot work, and frames the shortcut reaches', () => {
  it('an editor that refuses every change: the panel says so plainly, never "Replaced", and offers Copy', async () => {
    const u = ui(page);
    problems.length = 0;
    const c: EditorCase = {
      id: 'refusing',
      path: 'refusing.html',
      frames: [],
      field: '#editor',
      modelWindow: 'editor-frame',
      kind: 'rich',
    };
    await page.goto(site.url + c.path);
    await waitReady(page, c);
    const before = await page.locator('#editor').textContent();
    await selectUntilToolbar(c);
    await u.action('rewrite').click();
    await finished(page);
    await u.cmd('replace').click();
    await expect
      .poll(() => u.note.textContent(), WAIT)
      .toMatch(/did not accept the text, so nothing was changed\. Copy it/);
    expect(await u.note.textContent()).not.toMatch(/Replaced/);
    expect(await u.cmd('copy').isVisible()).toBe(true);
    expect(await u.cmd('undo').isVisible()).toBe(false);
    expect(await page.locator('#editor').textContent()).toBe(before);
    await page.screenshot({ path: screenshotPath('editor-refusing') });
    await u.cmd('close').click();
  });

  it('a canvas-drawn editor (as Google Docs): the shortcut says it is not supported here instead of staying silent', async () => {
    const u = ui(page);
    await page.goto(`${site.url}canvas.html`);
    await page.waitForFunction(() => (window as { __editorTest?: { ready: boolean } }).__editorTest?.ready === true);
    // Typing goes to an offscreen contenteditable frame, as in Docs: that frame has the focus, the canvas is its parent's.
    await page.frameLocator('iframe[title="text event target"]').locator('body').focus();
    const hint = page.locator('[data-redraft="hint"]');
    await expect
      .poll(async () => {
        await sendOpenToolbar(ext, site.url, 'focused');
        return hint.isVisible();
      }, WAIT)
      .toBe(true);
    expect(await hint.textContent()).toMatch(/draws its text on a canvas .* cannot read or replace a selection here/);
    expect(await u.toolbar.isVisible()).toBe(false);
  });

  it('a cross-origin frame: the shortcut (sent to every frame) and the context menu (sent to that frame) open the toolbar in the top page', async () => {
    const u = ui(page);
    const c = EDITOR_CASES.find((e) => e.id === 'frame-cross-origin')!;
    await page.goto(site.url + c.path);
    await waitReady(page, c);
    // Which frame reports: what the background sees as the sender (as the context menu's info.frameId would say).
    await ext.worker.evaluate(() => {
      const g = globalThis as unknown as { __reports?: { frameId?: number; url?: string }[] };
      if (g.__reports) return;
      g.__reports = [];
      chrome.runtime.onMessage.addListener((m, s) => {
        if (m?.type === 'frame/to-host') g.__reports!.push({ frameId: s.frameId, url: s.url });
        return undefined;
      });
    });
    const frame = await editorFrame(page, c);
    const selectQuietly = () =>
      frame.evaluate((needle) => {
        const ta = document.querySelector('#field') as HTMLTextAreaElement;
        ta.focus();
        const at = ta.value.indexOf(needle);
        ta.setSelectionRange(at, at + needle.length);
      }, SENTENCE);

    await selectQuietly();
    await expect
      .poll(async () => {
        await sendOpenToolbar(ext, site.url, 'focused');
        return u.toolbar.isVisible();
      }, WAIT)
      .toBe(true);
    // Opened from the keyboard: the focus is on the first action, in the top page.
    await expect
      .poll(() => u.action('rewrite').evaluate((b) => (b.getRootNode() as ShadowRoot).activeElement === b), WAIT)
      .toBe(true);
    await page.keyboard.press('Escape');
    await u.toolbar.waitFor({ state: 'hidden', ...WAIT });

    const reports = await ext.worker.evaluate(
      () => (globalThis as unknown as { __reports: { frameId?: number; url?: string }[] }).__reports,
    );
    const frameId = reports.find((r) => r.url?.startsWith(site.crossOrigin))?.frameId;
    expect(frameId).toBeGreaterThan(0);
    await selectQuietly();
    await sendOpenToolbar(ext, site.url, 'frame', frameId);
    await u.toolbar.waitFor({ state: 'visible', ...WAIT });
    await u.action('rewrite').click();
    expect(await finished(page)).toBe(await expectedOutput(SENTENCE));
    await u.cmd('close').click();
  });
});
