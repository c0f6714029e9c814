/**
 * The editor cases (one page per real editor or field kind, built by build.ts, served by server.ts) and a small
 * page object over playwright-core: find the frame holding the field, read the editor's own model text and
 * change count, and select a piece of text the way a user's selection ends up (DOM selection, then a real
 * Shift key press, which is what opens the extension's toolbar).
 *
 * `__editorTest` (pages/content.ts) lives on the window named by `modelWindow`: the editor's frame, except for
 * TinyMCE, whose code and model live on the top window while its editable body is in the iframe it creates.
 * The `#post` button lives in that same document.
 */
import type { Frame, Locator, Page } from 'playwright-core';
import { INITIAL_TEXT, SECOND } from './pages/content';
import type { EditorTestApi } from './pages/content';

export { FIRST, INITIAL_TEXT, SECOND } from './pages/content';

export interface EditorCase {
  /** Case id, also the page name: `<id>.html`. */
  id: string;
  /** Path of the page, relative to the site's main URL. */
  path: string;
  /** iframe selectors, from the top page down, to the frame holding the field ([] when it is in the top page). */
  frames: string[];
  /** Selector of the editable element (or textarea/input) inside that frame. */
  field: string;
  /** Window holding `__editorTest` and `#post`. */
  modelWindow: 'top' | 'editor-frame';
  kind: 'rich' | 'textarea' | 'input';
}

const page = (id: string, field: string, kind: EditorCase['kind'] = 'rich'): EditorCase => ({
  id,
  path: `${id}.html`,
  frames: [],
  field,
  modelWindow: 'editor-frame',
  kind,
});

export const EDITOR_CASES: readonly EditorCase[] = [
  page('lexical', '#editor[contenteditable="true"]'),
  page('draft', '.public-DraftEditor-content'),
  page('prosemirror', '#editor .ProseMirror'),
  page('tiptap', '#editor .tiptap'),
  page('quill', '#editor .ql-editor'),
  page('slate', '[data-slate-editor="true"]'),
  page('ckeditor', '.ck-editor__editable'),
  { ...page('tinymce', 'body#tinymce'), frames: ['iframe#editor_ifr'], modelWindow: 'top' },
  page('contenteditable', '#editor'),
  page('textarea', '#field', 'textarea'),
  page('input', '#field', 'input'),
  page('react-input', '#field', 'input'),
  { ...page('frame-textarea', '#field', 'textarea'), frames: ['#frame'] },
  { ...page('frame-srcdoc', '#editor'), frames: ['#frame'] },
  { ...page('frame-nested', '#field', 'textarea'), frames: ['#outer', '#inner'] },
  { ...page('frame-cross-origin', '#field', 'textarea'), frames: ['#frame'] },
];

export const editorCase = (id: string): EditorCase => {
  const c = EDITOR_CASES.find((e) => e.id === id);
  if (!c) throw new Error(`no editor case ${id}`);
  return c;
};

/** The text a case's model starts with (inputs hold the second paragraph only). */
export const initialText = (c: EditorCase) => (c.kind === 'input' ? SECOND : INITIAL_TEXT);

const TIMEOUT = 15_000;

/** Frames already found, per page and case (dropped when detached, e.g. after a reload). */
const frameCache = new WeakMap<Page, Map<string, Frame>>();

/** The frame holding the field, found by walking `c.frames` from the top page. */
export async function editorFrame(page: Page, c: EditorCase): Promise<Frame> {
  const cached = frameCache.get(page)?.get(c.id);
  if (cached && !cached.isDetached()) return cached;
  let frame = page.mainFrame();
  for (const selector of c.frames) {
    const iframe = frame.locator(selector);
    await iframe.waitFor({ state: 'attached', timeout: TIMEOUT });
    const handle = await iframe.elementHandle({ timeout: TIMEOUT });
    const next = await handle?.contentFrame();
    await handle?.dispose();
    if (!next) throw new Error(`${c.id}: ${selector} has no content frame`);
    frame = next;
  }
  if (c.frames.length > 0) {
    const perPage = frameCache.get(page) ?? new Map<string, Frame>();
    perPage.set(c.id, frame);
    frameCache.set(page, perPage);
  }
  return frame;
}

/** The frame whose window holds `__editorTest` and `#post`. */
export async function modelFrame(page: Page, c: EditorCase): Promise<Frame> {
  return c.modelWindow === 'top' ? page.mainFrame() : editorFrame(page, c);
}

type TestWindow = Window & { __editorTest?: EditorTestApi };

/** Waits until the page's editor is created (`__editorTest.ready`) and its field is attached. */
export async function waitReady(page: Page, c: EditorCase): Promise<void> {
  const model = await modelFrame(page, c);
  await model.waitForFunction(() => (window as TestWindow).__editorTest?.ready === true, undefined, {
    timeout: TIMEOUT,
    polling: 50,
  });
  await (await editorFrame(page, c)).locator(c.field).waitFor({ state: 'attached', timeout: TIMEOUT });
}

/** `__editorTest.text()`: the editor's model text, read through its own API in the right window. */
export async function modelText(page: Page, c: EditorCase): Promise<string> {
  return (await modelFrame(page, c)).evaluate(() => {
    const t = (window as TestWindow).__editorTest;
    if (!t) throw new Error('__editorTest missing');
    return t.text();
  });
}

/** How many change events the editor emitted since it was ready. */
export async function changes(page: Page, c: EditorCase): Promise<number> {
  return (await modelFrame(page, c)).evaluate(() => (window as TestWindow).__editorTest?.changes ?? 0);
}

/** The page's composer-like Post button, enabled by the editor's first change. */
export async function postButton(page: Page, c: EditorCase): Promise<Locator> {
  return (await modelFrame(page, c)).locator('#post');
}

/**
 * Focuses the field and selects exactly `needle` with the DOM selection API inside the editor's frame
 * (setSelectionRange for textarea/input; a Range over the text nodes for rich editors, which may span
 * nodes), lets the editor see the selection (two animation frames), then presses and releases Shift:
 * a real key event, the extension's cue that a selection was made with the keyboard.
 */
export async function selectText(page: Page, c: EditorCase, needle: string): Promise<void> {
  const frame = await editorFrame(page, c);
  await frame.evaluate(
    async ({ field, needle, kind }) => {
      const el = document.querySelector(field);
      if (!el) throw new Error(`${field} not found`);
      if (kind !== 'rich') {
        const input = el as HTMLInputElement | HTMLTextAreaElement;
        const start = input.value.indexOf(needle);
        if (start < 0) throw new Error(`"${needle}" not in ${field}`);
        input.focus();
        input.setSelectionRange(start, start + needle.length);
      } else {
        // Text nodes in document order; match against their concatenation (nbsp counts as a space).
        const nodes: Text[] = [];
        const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) nodes.push(n as Text);
        const all = nodes
          .map((n) => n.data)
          .join('')
          .replace(/\u00a0/g, ' ');
        const start = all.indexOf(needle);
        if (start < 0) throw new Error(`"${needle}" not in ${field}`);
        const end = start + needle.length;
        // Map both offsets to (node, offset). No named inner functions here: tsx's keepNames would wrap
        // them in a `__name` helper that does not exist in the page.
        const range = document.createRange();
        let pos = 0;
        let startSet = false;
        for (const n of nodes) {
          const len = n.data.length;
          if (!startSet && start < pos + len) {
            range.setStart(n, start - pos);
            startSet = true;
          }
          if (startSet && end <= pos + len) {
            range.setEnd(n, end - pos);
            break;
          }
          pos += len;
        }
        (el as HTMLElement).focus();
        const sel = getSelection();
        if (!sel) throw new Error('no selection object');
        sel.removeAllRanges();
        sel.addRange(range);
      }
      // Two frames, bounded in case the page is in the background (rAF paused).
      await new Promise((r) => {
        requestAnimationFrame(() => requestAnimationFrame(r));
        setTimeout(r, 250);
      });
    },
    { field: c.field, needle, kind: c.kind },
  );
  await page.keyboard.press('Shift');
}

/**
 * Presses the page's own undo (Control+z) until the model reads `expected`, at most `max` times, waiting
 * after each press for the model to change. Returns how many presses it took.
 */
export async function undoUntil(page: Page, c: EditorCase, expected: string, max = 5): Promise<number> {
  for (let presses = 0; presses < max; presses++) {
    const before = await modelText(page, c);
    if (before === expected) return presses;
    await page.keyboard.press('Control+z');
    const deadline = Date.now() + 2_000;
    while ((await modelText(page, c)) === before && Date.now() < deadline) {
      await page.waitForTimeout(20);
    }
  }
  const last = await modelText(page, c);
  if (last !== expected) throw new Error(`${c.id}: after ${max} undos the model reads ${JSON.stringify(last)}`);
  return max;
}
