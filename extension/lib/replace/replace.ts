/**
 * Replace a captured selection with new text, in whatever editor holds it, and only say so once the
 * field reads back the new text.
 *
 * For each strategy of the field's adapter (adapters/): select the original text again, let the editor
 * sync its selection, insert, let the editor settle, read the field back. The new text in place → done.
 * Unchanged (the editor ignored or reverted it) → next strategy. Changed into something else → put it back
 * with the editor's own undo and stop. Nothing worked → a plain "this editor did not accept the text"
 * (the panel offers Copy). Undo follows the same rule, against the original text.
 *
 * Depends on: the DOM, and an injected `ReplaceEnv` (the browser's editing command, a settle wait, the
 * platform's undo shortcut) so the orchestration is unit-tested in happy-dom with scripted editors.
 */
import { locate, rangeFromOffsets, textOffset, type FieldElement, type Target } from '../selection';
import { adapterFor } from './adapters';
import { fieldText, rootText, settleDom, spliced, squash, type Settle } from './readback';
import { documentExec, fireInput, insertBy, undoBy, type ExecCommand, type Strategy } from './strategies';

export interface ReplaceEnv {
  exec: ExecCommand;
  settle: Settle;
  /** Cmd+Z rather than Ctrl+Z. */
  mac: boolean;
}

export function browserEnv(doc: Document): ReplaceEnv {
  const nav = doc.defaultView?.navigator;
  const platform =
    (nav as { userAgentData?: { platform?: string } } | undefined)?.userAgentData?.platform ?? nav?.platform ?? '';
  return { exec: documentExec(doc), settle: settleDom(), mac: /mac|iphone|ipad/i.test(platform) };
}

export type EditableTarget = Extract<Target, { kind: 'field' | 'editable' }>;

export interface Replacement {
  target: EditableTarget;
  text: string;
  /** The adapter and the strategy that the field took. */
  adapter: string;
  strategy: Strategy;
  /** Field: the whole value before/after. Editable: the root's textContent before/after. */
  before: string;
  after: string;
  /** Offsets (value / textContent units) of the inserted text. */
  insertedStart: number;
  insertedEnd: number;
  /** What the inserted span stood for before: the selected text (replace), or nothing (insert below). */
  original: string;
}

export type ReplaceFailure = 'not_editable' | 'moved' | 'too_long' | 'refused' | 'unexpected';
export type ReplaceOutcome =
  | { ok: true; replacement: Replacement }
  | { ok: false; reason: ReplaceFailure; message: string; tried: Strategy[] };

export const REPLACE_MESSAGES: Record<ReplaceFailure, string> = {
  not_editable: 'This text is not editable; copy it instead.',
  moved: 'The selected text changed since you selected it; select it again.',
  too_long: 'The field does not take text this long; copy it instead.',
  refused: 'This editor did not accept the text, so nothing was changed. Copy it and paste it in.',
  unexpected:
    'The editor changed the text differently than expected and it was put back. Copy the result and paste it in.',
};

const fail = (reason: ReplaceFailure, tried: Strategy[] = [], message = REPLACE_MESSAGES[reason]): ReplaceOutcome => ({
  ok: false,
  reason,
  message,
  tried,
});

/** One field, seen the same way for text fields and editable roots. */
interface Surface {
  el: HTMLElement | FieldElement;
  read(): string;
  /** Focus the field and select [start, end) of its text. */
  select(start: number, end: number): void;
  /** Text fields compare exactly; rich editors compare words (their DOM adds blocks and fillers). */
  same(a: string, b: string): boolean;
}

function surfaceOf(t: EditableTarget): Surface {
  if (t.kind === 'field') {
    const el = t.el;
    return {
      el,
      read: () => fieldText(el),
      select: (start, end) => {
        el.focus();
        el.setSelectionRange(start, end);
      },
      same: (a, b) => a === b,
    };
  }
  const root = t.root;
  return {
    el: root,
    read: () => rootText(root),
    select: (start, end) => {
      root.focus({ preventScroll: true });
      const sel = root.ownerDocument.getSelection();
      if (!sel) return;
      sel.removeAllRanges();
      sel.addRange(rangeFromOffsets(root, start, end));
    },
    same: (a, b) => squash(a) === squash(b),
  };
}

/** A one-line input drops line breaks: a multi-line result becomes one line (spaces) rather than words run together. */
const fitsField = (t: EditableTarget, text: string) =>
  t.kind === 'field' && t.el.tagName === 'INPUT' ? text.replace(/\s*[\r\n]+\s*/g, ' ').trim() : text;

/** The target's text in the units its offsets use. */
const rawOf = (t: EditableTarget) => (t.kind === 'field' ? t.text : t.raw);

/**
 * Puts `text` over the span [start, start + oldRaw.length) of the field, trying the adapter's strategies in
 * order, each verified by reading the field back.
 */
async function put(
  t: EditableTarget,
  surface: Surface,
  start: number,
  oldRaw: string,
  text: string,
  env: ReplaceEnv,
): Promise<ReplaceOutcome> {
  const adapter = adapterFor(t.kind === 'field' ? t.el : t.root);
  const before = surface.read();
  const expected = spliced(before, start, oldRaw.length, text);
  const tried: Strategy[] = [];
  const order = text.includes('\n') ? (adapter.multiline ?? adapter.strategies) : adapter.strategies;
  for (const strategy of order) {
    if (strategy === 'setRangeText' && t.kind !== 'field') continue;
    surface.select(start, start + oldRaw.length);
    await env.settle(surface.el); // editors sync their selection on `selectionchange`, a task later
    tried.push(strategy);
    const attempt = insertBy(strategy, {
      el: surface.el,
      text,
      exec: env.exec,
      span: { start, end: start + oldRaw.length },
    });
    if (attempt === 'unhandled' && surface.read() === before) continue;
    await env.settle(surface.el);
    const now = surface.read();
    if (surface.same(now, expected)) {
      const insertedEnd = start + Math.max(0, now.length - (before.length - oldRaw.length));
      return {
        ok: true,
        replacement: {
          target: t,
          text,
          adapter: adapter.name,
          strategy,
          before,
          after: now,
          insertedStart: start,
          insertedEnd,
          original: oldRaw,
        },
      };
    }
    if (surface.same(now, before)) continue; // ignored, or reverted by the editor (CKEditor does this to DOM-only edits)
    // Something else happened (half inserted, inserted twice, reformatted): take it back and stop.
    if (!(await revert(t, surface, before, now, env)))
      return fail(
        'unexpected',
        tried,
        'The editor changed the text differently than expected. Press Ctrl+Z in the field to undo it, then copy the result.',
      );
    return fail('unexpected', tried);
  }
  return fail('refused', tried);
}

/** The editor's own undo until the field reads `target` again. */
async function revert(
  t: EditableTarget,
  surface: Surface,
  target: string,
  from: string,
  env: ReplaceEnv,
): Promise<boolean> {
  const adapter = adapterFor(t.kind === 'field' ? t.el : t.root);
  for (const strategy of adapter.undo) {
    surface.el.focus({ preventScroll: true });
    const attempt = undoBy(strategy, surface.el, env.exec, env.mac);
    if (attempt === 'unhandled') continue;
    await env.settle(surface.el);
    const now = surface.read();
    if (surface.same(now, target)) return true;
    if (!surface.same(now, from)) return false; // undid something else
  }
  return false;
}

/** A text field's `maxlength` the result would exceed (refused before anything changes), else null. */
function overMaxLength(t: EditableTarget, length: number): ReplaceOutcome | null {
  if (t.kind !== 'field' || t.el.maxLength < 0 || length <= t.el.maxLength) return null;
  const most = t.el.maxLength.toLocaleString('en-US');
  return fail(
    'too_long',
    [],
    `This field takes at most ${most} characters and the result would make it ${length.toLocaleString('en-US')}; copy it instead.`,
  );
}

/** Replaces the target's text in place, verified. Never throws for the page's doing: the outcome says why. */
export async function replaceTarget(
  t: Target,
  text: string,
  env: ReplaceEnv = browserEnv(docOf(t)),
): Promise<ReplaceOutcome> {
  if (t.kind === 'page' || !t.editable) return fail('not_editable');
  const surface = surfaceOf(t);
  const current = surface.read();
  const raw = rawOf(t);
  const at = locate(current, raw, t.start);
  if (at === null) return fail('moved');
  text = fitsField(t, text);
  const tooLong = overMaxLength(t, current.length - raw.length + text.length);
  if (tooLong) return tooLong;
  const located: EditableTarget = t.kind === 'field' ? { ...t, start: at, end: at + raw.length } : { ...t, start: at };
  return put(located, surface, at, raw, text, env);
}

const BLOCKS = 'p,div,li,h1,h2,h3,h4,h5,h6,blockquote,pre,td,th,dd,dt,figcaption';

/**
 * Where "Insert below" puts the text: the end of the line (text field) or of the block (rich editor) holding
 * the selection's end, so the result starts a line of its own and never splits a sentence.
 */
function endOfBlock(t: EditableTarget, current: string, end: number): number {
  if (t.kind === 'field') {
    const nl = current.indexOf('\n', end);
    return nl < 0 ? current.length : nl;
  }
  const at = rangeFromOffsets(t.root, end, end);
  const node = at.endContainer;
  const el = node.nodeType === 1 ? (node as Element) : node.parentElement;
  const block = el?.closest(BLOCKS);
  if (!block || block === t.root || !t.root.contains(block)) return end;
  return Math.max(end, textOffset(t.root, block, block.childNodes.length));
}

/**
 * Inserts `text` as a new line (paragraph) after the selection, keeping the selection as it is: verified
 * like a replacement, and undone the same way. One-line inputs have no line below: refused.
 */
export async function insertAfterTarget(
  t: Target,
  text: string,
  env: ReplaceEnv = browserEnv(docOf(t)),
): Promise<ReplaceOutcome> {
  if (t.kind === 'page' || !t.editable) return fail('not_editable');
  if (t.kind === 'field' && t.el.tagName === 'INPUT')
    return fail('refused', [], 'A one-line field has no line below; use Replace or Copy.');
  const surface = surfaceOf(t);
  const current = surface.read();
  const raw = rawOf(t);
  const found = locate(current, raw, t.start);
  if (found === null) return fail('moved');
  const at = endOfBlock(t, current, found + raw.length);
  const inserted = `\n${text.replace(/^\s+|\s+$/g, '')}`;
  const tooLong = overMaxLength(t, current.length + inserted.length);
  if (tooLong) return tooLong;
  const located: EditableTarget =
    t.kind === 'field' ? { ...t, start: found, end: found + raw.length } : { ...t, start: found };
  return put(located, surface, at, '', inserted, env);
}

export type UndoOutcome =
  | { ok: true; how: 'native' | 'manual' | 'already' }
  | { ok: false; reason: 'changed-since' | 'refused'; message: string };

/**
 * Puts the original text back: the editor's own undo first (one step, as Ctrl+Z would), verified; else the
 * original is replaced back over the inserted text with the same strategies. Leaves the field alone when
 * the inserted text was edited since.
 */
export async function undoReplacement(
  rep: Replacement,
  env: ReplaceEnv = browserEnv(docOf(rep.target)),
): Promise<UndoOutcome> {
  const t = rep.target;
  const surface = surfaceOf(t);
  const now = surface.read();
  if (surface.same(now, rep.before)) return { ok: true, how: 'already' };
  if (!surface.same(now, rep.after))
    return {
      ok: false,
      reason: 'changed-since',
      message: 'The text was edited after the replacement, so it was left as it is.',
    };
  // Caret at the end of the inserted text, where a user pressing Ctrl+Z would be.
  surface.select(rep.insertedEnd, rep.insertedEnd);
  if (await revert(t, surface, rep.before, now, env)) return { ok: true, how: 'native' };
  if (!surface.same(surface.read(), rep.after))
    return {
      ok: false,
      reason: 'changed-since',
      message: 'Undo changed something else in the field; press Ctrl+Y there to redo it.',
    };
  const inserted = surface.read().slice(rep.insertedStart, rep.insertedEnd);
  const back =
    rep.original === ''
      ? await removeSpan(t, surface, rep, env)
      : await put(t, surface, rep.insertedStart, inserted, t.text, env);
  return back.ok
    ? { ok: true, how: 'manual' }
    : {
        ok: false,
        reason: 'refused',
        message: 'The editor did not take the original text back; press Ctrl+Z in the field.',
      };
}

/** Takes an inserted span out again (an insertion's manual undo), verified against the text before it. */
async function removeSpan(
  t: EditableTarget,
  surface: Surface,
  rep: Replacement,
  env: ReplaceEnv,
): Promise<{ ok: boolean }> {
  surface.select(rep.insertedStart, rep.insertedEnd);
  await env.settle(surface.el);
  if (t.kind === 'field') {
    if (!env.exec('delete')) {
      t.el.setRangeText('', rep.insertedStart, rep.insertedEnd, 'end');
      fireInput(t.el, 'deleteContentBackward', null);
    }
  } else env.exec('delete');
  await env.settle(surface.el);
  return { ok: surface.same(surface.read(), rep.before) };
}

function docOf(t: Target): Document {
  return t.kind === 'field'
    ? t.el.ownerDocument
    : t.kind === 'editable'
      ? t.root.ownerDocument
      : (t.range.startContainer.ownerDocument ?? document);
}
