/**
 * Selection capture, framework-free: what is selected, in which field, at which offsets. Unit-tested in
 * happy-dom and end to end in Chromium.
 *
 * The target is remembered when the toolbar opens (a field's selectionStart/End, or a cloned Range), so
 * Replace still hits it after focus moved into the extension's panel.
 *
 * Replacing the text is lib/replace/ (strategies per editor, each verified by reading the field back).
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
  const sel =
    (active?.getRootNode() as { getSelection?: () => Selection | null } | undefined)?.getSelection?.() ??
    doc.getSelection();
  if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
  const range = sel.getRangeAt(0).cloneRange();
  if (opts.ignore?.(range.commonAncestorContainer)) return null;
  const raw = range.toString();
  const text = sel.toString() || raw;
  if (!raw.trim() || !text.trim()) return null;
  const root = editableRoot(range.commonAncestorContainer);
  if (!root) return { kind: 'page', range, text, editable: false };
  // Offsets survive DOM changes that a live Range does not (an undo re-creates the text nodes).
  return {
    kind: 'editable',
    root,
    range,
    text,
    editable: true,
    raw,
    start: textOffset(root, range.startContainer, range.startOffset),
  };
}

/** Where to anchor the toolbar: the selection's rectangle (a field's own box for fields). */
export function targetRect(t: Target): DOMRect {
  if (t.kind === 'field') return t.el.getBoundingClientRect();
  const rects = t.range.getClientRects();
  const last = rects.length > 0 ? rects[rects.length - 1] : undefined;
  const box = t.range.getBoundingClientRect();
  return last && box.width === 0 && box.height === 0 ? last : box;
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

/**
 * Whether the page draws its text on a canvas (as Google Docs does): a visible canvas covering a good part of
 * the viewport while nothing is selected in the DOM. There is then no selection Redraft can read or replace;
 * the UI says so instead of staying silent.
 */
export function drawsTextOnCanvas(
  doc: Document,
  rectOf: (el: Element) => DOMRect = (el) => el.getBoundingClientRect(),
): boolean {
  const view = doc.defaultView;
  const area = (view?.innerWidth ?? 0) * (view?.innerHeight ?? 0);
  if (area <= 0) return false;
  let covered = 0;
  for (const c of doc.querySelectorAll('canvas')) {
    const r = rectOf(c);
    const w = Math.max(0, Math.min(r.right, view!.innerWidth) - Math.max(r.left, 0));
    const h = Math.max(0, Math.min(r.bottom, view!.innerHeight) - Math.max(r.top, 0));
    covered += w * h;
  }
  return covered >= area * 0.25;
}
