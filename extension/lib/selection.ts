/**
 * Selection capture and in-place replacement, framework-free. Unit-tested in happy-dom (the fallback
 * paths) and end-to-end in Chromium (the execCommand path and the page's native undo).
 *
 * The target is remembered when the toolbar opens (a field's selectionStart/End, or a cloned Range), so
 * Replace still hits it after focus moved into the extension's panel.
 *
 * Replace prefers `document.execCommand('insertText')`: it goes through the browser's editing pipeline,
 * so the page's undo stack (Ctrl+Z) and `beforeinput`/`input` events (React, Draft, ProseMirror, Lexical)
 * behave as if the user typed. When it is unavailable or has no effect, it falls back to
 * `setRangeText` + an `input` event (fields) or Range manipulation (contenteditable).
 */

export type FieldElement = HTMLTextAreaElement | HTMLInputElement;

export type Target =
  | { kind: 'field'; el: FieldElement; start: number; end: number; text: string; editable: boolean }
  | {
      kind: 'editable';
      root: HTMLElement;
      range: Range;
      /** As the user sees it (line breaks between blocks): what is sent to the API. */
      text: string;
      editable: true;
      /** The same text in textContent units (no block line breaks), and where it starts in root.textContent. */
      raw: string;
      start: number;
    }
  | { kind: 'page'; range: Range; text: string; editable: false };

/** Input types whose value is free text with a selection API. Passwords are never offered. */
const TEXT_INPUT_TYPES = new Set(['text', 'search', 'url', 'tel', '']);

export function isTextField(el: Element | null | undefined): el is FieldElement {
  if (!el) return false;
  if (el.tagName === 'TEXTAREA') return true;
  if (el.tagName !== 'INPUT') return false;
  return TEXT_INPUT_TYPES.has(((el as HTMLInputElement).getAttribute('type') ?? '').toLowerCase());
}

/** The element with focus, looking inside open shadow roots of the page (web components). */
export function deepActiveElement(doc: Document): Element | null {
  let el: Element | null = doc.activeElement;
  while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
  return el;
}

function isEditableElement(el: Element): boolean {
  const html = el as HTMLElement;
  if (typeof html.isContentEditable === 'boolean' && html.isContentEditable) return true;
  // Fallback for DOMs without isContentEditable: the nearest contenteditable attribute decides.
  const attr = el.closest('[contenteditable]')?.getAttribute('contenteditable');
  return attr != null && attr.toLowerCase() !== 'false';
}

/** The outermost contenteditable element containing `node`, or null when the node is not editable. */
export function editableRoot(node: Node | null): HTMLElement | null {
  let el: Element | null = node && (node.nodeType === 1 ? (node as Element) : node.parentElement);
  if (!el || !isEditableElement(el)) return null;
  while (el.parentElement && isEditableElement(el.parentElement)) el = el.parentElement;
  return el as HTMLElement;
}

export interface CaptureOptions {
  /** Nodes that belong to the extension's own UI (never a target). */
  ignore?: (node: Node) => boolean;
}

/** What is selected right now, or null (nothing, only whitespace, a password field, our own UI). */
export function captureSelection(doc: Document, opts: CaptureOptions = {}): Target | null {
  const active = deepActiveElement(doc);
  if (active && opts.ignore?.(active)) return null;
  if (isTextField(active)) {
    const start = active.selectionStart;
    const end = active.selectionEnd;
    if (start == null || end == null || start === end) return null;
    const text = active.value.slice(start, end);
    if (!text.trim()) return null;
    return { kind: 'field', el: active, start, end, text, editable: !active.readOnly && !active.disabled };
  }
  const sel = (active?.getRootNode() as { getSelection?: () => Selection | null } | undefined)?.getSelection?.() ?? doc.getSelection();
  if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
  const range = sel.getRangeAt(0).cloneRange();
  if (opts.ignore?.(range.commonAncestorContainer)) return null;
  const raw = range.toString();
  const text = sel.toString() || raw;
  if (!raw.trim() || !text.trim()) return null;
  const root = editableRoot(range.commonAncestorContainer);
  if (!root) return { kind: 'page', range, text, editable: false };
  // Offsets survive DOM changes that a live Range does not (an undo re-creates the text nodes).
  return { kind: 'editable', root, range, text, editable: true, raw, start: textOffset(root, range.startContainer, range.startOffset) };
}

/** Where to anchor the toolbar: the selection's rectangle (a field's own box for fields). */
export function targetRect(t: Target): DOMRect {
  if (t.kind === 'field') return t.el.getBoundingClientRect();
  const rects = t.range.getClientRects();
  const last = rects.length > 0 ? rects[rects.length - 1] : undefined;
  const box = t.range.getBoundingClientRect();
  return last && box.width === 0 && box.height === 0 ? last : box;
}

export type ExecCommand = (command: string, value?: string) => boolean;

export const documentExec =
  (doc: Document): ExecCommand =>
  (command, value) => {
    try {
      return typeof doc.execCommand === 'function' && doc.execCommand(command, false, value);
    } catch {
      return false;
    }
  };

export interface Replacement {
  target: Target;
  /** The text now in the page. */
  text: string;
  /** How it got there; page-native undo is only trusted after execCommand. */
  method: 'execCommand' | 'setRangeText' | 'range';
  /** Field: the whole value before/after. Editable: the root's textContent before/after. */
  before: string;
  after: string;
  /** Character offsets (in `value`/`textContent` units) of the inserted text. */
  insertedStart: number;
  insertedEnd: number;
}

const squash = (s: string) => s.replace(/\s+/g, '');

/** Replaces the target's text in place. Throws for page text (not editable). */
export function replaceTarget(t: Target, text: string, exec: ExecCommand = documentExec(ownerDocument(t))): Replacement {
  if (t.kind === 'page' || !t.editable) throw new Error('This text is not editable; copy it instead.');
  return t.kind === 'field' ? replaceInField(t, text, exec) : replaceInEditable(t, text, exec);
}

function ownerDocument(t: Target): Document {
  return t.kind === 'field' ? t.el.ownerDocument : t.kind === 'editable' ? t.root.ownerDocument : (t.range.startContainer.ownerDocument ?? document);
}

function fireInput(el: Element, inputType: string, data: string | null) {
  const view = el.ownerDocument.defaultView;
  const Ctor = view?.InputEvent ?? (typeof InputEvent === 'function' ? InputEvent : undefined);
  el.dispatchEvent(Ctor ? new Ctor('input', { bubbles: true, composed: true, inputType, data }) : new Event('input', { bubbles: true }));
}

/**
 * Where the selected text is now: where it was captured, or (when the page changed the text before it)
 * its only occurrence. Null when it is gone or ambiguous: never replace the wrong words.
 */
export function locate(haystack: string, needle: string, start: number): number | null {
  if (haystack.slice(start, start + needle.length) === needle) return start;
  const first = haystack.indexOf(needle);
  return first >= 0 && haystack.indexOf(needle, first + 1) < 0 ? first : null;
}

const moved = () => new Error('The selected text changed since you selected it; select it again.');

function replaceInField(target: Extract<Target, { kind: 'field' }>, text: string, exec: ExecCommand): Replacement {
  const el = target.el;
  const before = el.value;
  const at = locate(before, target.text, target.start);
  if (at === null) throw moved();
  const t = { ...target, start: at, end: at + target.text.length };
  el.focus();
  el.setSelectionRange(t.start, t.end);
  const expected = before.slice(0, t.start) + text + before.slice(t.end);
  let method: Replacement['method'] = 'execCommand';
  const ran = exec('insertText', text);
  // Trust execCommand when the value changed at all (a page handler may reformat what was inserted);
  // fall back only when nothing happened, so the text is never inserted twice.
  if (!ran || el.value === before) {
    method = 'setRangeText';
    el.setRangeText(text, t.start, t.end, 'end');
    fireInput(el, 'insertReplacementText', text);
  }
  const after = el.value;
  const insertedEnd = after === expected ? t.start + text.length : t.start + Math.max(0, after.length - (before.length - (t.end - t.start)));
  return { target: t, text, method, before, after, insertedStart: t.start, insertedEnd };
}

/** Character offset of a boundary point within `root`'s textContent. */
export function textOffset(root: Node, container: Node, offset: number): number {
  const r = (root.ownerDocument ?? (root as Document)).createRange();
  r.setStart(root, 0);
  r.setEnd(container, offset);
  return r.toString().length;
}

/** A Range covering textContent offsets [start, end) of `root`. */
export function rangeFromOffsets(root: Node, start: number, end: number): Range {
  const doc = root.ownerDocument ?? (root as Document);
  const range = doc.createRange();
  const walker = doc.createTreeWalker(root, 4 /* NodeFilter.SHOW_TEXT */);
  let seen = 0;
  let startSet = false;
  let last: Text | null = null;
  for (let n = walker.nextNode() as Text | null; n; n = walker.nextNode() as Text | null) {
    const len = n.data.length;
    if (!startSet && start <= seen + len) {
      range.setStart(n, start - seen);
      startSet = true;
    }
    if (startSet && end <= seen + len) {
      range.setEnd(n, end - seen);
      return range;
    }
    seen += len;
    last = n;
  }
  if (!startSet) range.setStart(last ?? root, last ? last.data.length : 0);
  range.setEnd(last ?? root, last ? last.data.length : root.childNodes.length);
  return range;
}

function selectRange(range: Range) {
  const sel = range.startContainer.ownerDocument?.getSelection();
  if (!sel) return;
  sel.removeAllRanges();
  sel.addRange(range);
}

function insertTextAtRange(range: Range, text: string): Node | null {
  const doc = range.startContainer.ownerDocument!;
  range.deleteContents();
  const frag = doc.createDocumentFragment();
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (i > 0) frag.appendChild(doc.createElement('br'));
    if (line) frag.appendChild(doc.createTextNode(line));
  });
  const lastNode = frag.lastChild;
  range.insertNode(frag);
  if (lastNode) {
    range.setStartAfter(lastNode);
    range.collapse(true);
    selectRange(range);
  }
  return lastNode;
}

function replaceInEditable(t: Extract<Target, { kind: 'editable' }>, text: string, exec: ExecCommand): Replacement {
  const root = t.root;
  const before = root.textContent ?? '';
  const startOffset = locate(before, t.raw, t.start);
  if (startOffset === null) throw moved();
  const originalLen = t.raw.length;
  root.focus();
  selectRange(rangeFromOffsets(root, startOffset, startOffset + originalLen));
  let method: Replacement['method'] = 'execCommand';
  const ran = exec('insertText', text);
  if (!ran || (root.textContent ?? '') === before) {
    method = 'range';
    const range = rangeFromOffsets(root, startOffset, startOffset + originalLen);
    insertTextAtRange(range, text);
    fireInput(root, 'insertReplacementText', text);
  }
  const after = root.textContent ?? '';
  const insertedLen = Math.max(0, after.length - (before.length - originalLen));
  return { target: t, text, method, before, after, insertedStart: startOffset, insertedEnd: startOffset + insertedLen };
}

export type UndoResult = 'native' | 'manual' | 'changed-since';

/**
 * Puts the original text back. Tries the page's own undo first (when the replacement went through
 * execCommand, so the undo step is ours); verifies the result; otherwise re-inserts the original over
 * the inserted text. Refuses ('changed-since') when the inserted text is no longer where we put it.
 */
export function undoReplacement(rep: Replacement, exec: ExecCommand = documentExec(ownerDocument(rep.target))): UndoResult {
  const t = rep.target;
  if (t.kind === 'field') {
    const el = t.el;
    el.focus();
    if (rep.method === 'execCommand' && el.value === rep.after) {
      exec('undo');
      if (el.value === rep.before) return 'native';
      if (el.value !== rep.after) exec('redo'); // undid something else: put it back, then do it by hand
    }
    if (el.value.slice(rep.insertedStart, rep.insertedEnd) !== rep.after.slice(rep.insertedStart, rep.insertedEnd)) return 'changed-since';
    el.setSelectionRange(rep.insertedStart, rep.insertedEnd);
    const beforeManual = el.value;
    if (!exec('insertText', t.text) || el.value === beforeManual) {
      el.setRangeText(t.text, rep.insertedStart, rep.insertedEnd, 'end');
      fireInput(el, 'insertReplacementText', t.text);
    }
    return 'manual';
  }
  if (t.kind !== 'editable') return 'changed-since';
  const root = t.root;
  root.focus();
  if (rep.method === 'execCommand' && (root.textContent ?? '') === rep.after) {
    exec('undo');
    if (squash(root.textContent ?? '') === squash(rep.before)) return 'native';
    if ((root.textContent ?? '') !== rep.after) exec('redo');
  }
  const now = root.textContent ?? '';
  if (now.slice(rep.insertedStart, rep.insertedEnd) !== rep.after.slice(rep.insertedStart, rep.insertedEnd)) return 'changed-since';
  const range = rangeFromOffsets(root, rep.insertedStart, rep.insertedEnd);
  selectRange(range);
  const beforeManual = now;
  if (!exec('insertText', t.text) || (root.textContent ?? '') === beforeManual) {
    insertTextAtRange(rangeFromOffsets(root, rep.insertedStart, rep.insertedEnd), t.text);
    fireInput(root, 'insertReplacementText', t.text);
  }
  return 'manual';
}
