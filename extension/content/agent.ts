/**
 * The selection agent, one per frame: notices selections in its own document, remembers each as a target,
 * reports it to the UI (in the top frame), and replaces or undoes it when the UI asks. Replace and undo
 * must run in the frame that holds the field: that is where the editor, its selection and its undo live.
 *
 * Depends on: the DOM of this frame, lib/selection (capture), lib/replace (verified replace/undo), a
 * `deliver` function to the UI (direct in the top frame, through the background elsewhere), FrameGeometry.
 */
import type { ContentScriptContext } from 'wxt/utils/content-script-context';
import {
  captureSelection,
  drawsTextOnCanvas,
  locate,
  rangeFromOffsets,
  targetRect,
  type Target,
} from '../lib/selection';
import { insertAfterTarget, replaceTarget, undoReplacement, type Replacement } from '../lib/replace/replace';
import { rootText, fieldText, squash } from '../lib/replace/readback';
import type {
  AgentCall,
  AgentEvent,
  Box,
  LocateResult,
  ReplaceResult,
  SelectionReport,
  UndoResult,
} from '../lib/frames';
import type { FrameGeometry } from './geometry';
import { offersOnSelection, type InPageSettings } from '../lib/settings';
import { backgroundIsDark, backgroundsFrom } from '../lib/theme';

export interface AgentDeps {
  /** Sends an event to the UI. */
  deliver(event: AgentEvent): void;
  /** Nodes of the extension's own UI (never a target). */
  ignore(node: Node): boolean;
  geometry: FrameGeometry;
  /** The user's in-page settings, as last read from storage. */
  settings(): InPageSettings;
  /** The site of the tab's top page (what "off on this site" names). */
  site: string | null;
}

interface Kept {
  target: Target;
  replacement: Replacement | null;
  stopWatching: (() => void) | null;
}

const randomId = () => crypto.randomUUID().replace(/-/g, '').slice(0, 24);
const MAX_KEPT = 4;

export class FrameAgent {
  private readonly kept = new Map<string, Kept>();
  /** A report of ours may be on screen: clicks and scrolls here then dismiss it. */
  private reported = false;

  constructor(
    private readonly ctx: ContentScriptContext,
    private readonly deps: AgentDeps,
  ) {}

  listen(): void {
    const doc = document;
    this.ctx.addEventListener(
      doc,
      'mouseup',
      (e: MouseEvent) => {
        if (this.deps.ignore(e.composedPath()[0] as Node)) return;
        const point = { x: e.clientX, y: e.clientY };
        const doubleClick = e.detail === 2;
        this.ctx.setTimeout(() => this.check(point, false, doubleClick), 0);
      },
      { capture: true },
    );
    this.ctx.addEventListener(
      doc,
      'keyup',
      (e: KeyboardEvent) => {
        if (this.deps.ignore(e.composedPath()[0] as Node)) return;
        const selecting = e.shiftKey || e.key === 'Shift' || ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'a');
        if (selecting) this.ctx.setTimeout(() => this.check(null, false), 0);
      },
      { capture: true },
    );
    this.ctx.addEventListener(
      doc,
      'mousedown',
      (e: MouseEvent) => {
        if (this.reported && !this.deps.ignore(e.composedPath()[0] as Node)) this.dismiss('cleared');
      },
      { capture: true },
    );
    // Esc in a frame closes the UI shown for its selection (the top frame's UI listens there itself).
    if (window.top !== window) {
      this.ctx.addEventListener(
        doc,
        'keydown',
        (e: KeyboardEvent) => {
          if (e.key === 'Escape' && this.reported) this.dismiss('escape');
        },
        { capture: true },
      );
    }
    // The page (or a scrolling box in it) scrolled, or the frame resized: the UI follows the selection.
    let moving = false;
    const moved = () => {
      if (moving || this.kept.size === 0) return;
      moving = true;
      requestAnimationFrame(() => {
        moving = false;
        this.deps.deliver({ type: 'moved' });
      });
    };
    this.ctx.addEventListener(window, 'scroll', moved, { capture: true, passive: true });
    this.ctx.addEventListener(window, 'resize', moved, { passive: true });
  }

  /** Opened by the shortcut or the context menu: report what is selected here (or that nothing is). */
  openFromCommand(): void {
    void this.check(null, true);
  }

  /** Whether this frame holds the keyboard focus itself (not one of its child frames). */
  focusedHere(): boolean {
    if (!document.hasFocus()) return false;
    const active = document.activeElement;
    return !(active instanceof HTMLIFrameElement || active instanceof HTMLFrameElement);
  }

  private dismiss(reason: 'cleared' | 'escape') {
    this.reported = false;
    this.deps.deliver({ type: 'dismiss', reason });
  }

  private check(point: { x: number; y: number } | null, fromCommand: boolean, doubleClick = false) {
    let target = captureSelection(document, { ignore: this.deps.ignore });
    if (
      target &&
      !fromCommand &&
      !offersOnSelection(this.deps.settings(), {
        site: this.deps.site,
        editable: target.editable,
        text: target.text,
        doubleClick,
      })
    )
      target = null;
    if (!target) {
      if (fromCommand) this.deps.deliver({ type: 'no-selection', canvas: drawsTextOnCanvas(document) });
      else if (this.reported) this.dismiss('cleared');
      return;
    }
    const id = randomId();
    this.keep(id, target);
    const r = targetRect(target);
    const nonce = randomId();
    const report: SelectionReport = {
      id,
      text: target.text,
      editable: target.editable,
      kind: target.kind,
      rect: { left: r.left, top: r.top, right: r.right, bottom: r.bottom },
      point,
      fromCommand,
      mode: fromCommand ? 'toolbar' : 'button',
      nonce,
      dir: directionOf(target),
      dark: backgroundIsDark(
        backgroundsFrom(elementOf(target)),
        getComputedStyle(document.documentElement).colorScheme,
      ),
      oneLine: target.kind === 'field' && target.el.tagName === 'INPUT',
    };
    this.reported = true;
    this.deps.geometry.announce(nonce);
    this.deps.deliver({ type: 'selection', report });
  }

  private keep(id: string, target: Target) {
    // Targets with a replacement on screen are kept; plain selections are dropped oldest first.
    for (const [k, v] of this.kept) {
      if (this.kept.size < MAX_KEPT) break;
      if (!v.replacement) this.forget(k);
    }
    if (this.kept.size >= MAX_KEPT) this.forget(this.kept.keys().next().value!);
    this.kept.set(id, { target, replacement: null, stopWatching: null });
  }

  private forget(id: string) {
    this.kept.get(id)?.stopWatching?.();
    this.kept.delete(id);
  }

  async call(call: AgentCall): Promise<ReplaceResult | UndoResult | LocateResult | { ok: true }> {
    if (call.op === 'forget') {
      this.forget(call.id);
      return { ok: true };
    }
    const kept = this.kept.get(call.id);
    if (!kept) return { ok: false, message: 'The selection is gone (the page changed); select the text again.' };
    if (call.op === 'restore') {
      restoreSelection(kept.replacement ? null : kept.target);
      return { ok: true };
    }
    if (call.op === 'locate') return this.locate(kept);
    if (call.op === 'undo') return this.undo(call.id, kept);
    return this.apply(call.id, kept, call.text, call.op);
  }

  /** Where the selection (or, once replaced, the new text) is now; the frame's offset is relayed again. */
  private locate(kept: Kept): LocateResult {
    const box = currentBox(kept);
    if (!box) return { ok: false, message: 'The selection is no longer on the page.' };
    const nonce = randomId();
    this.deps.geometry.announce(nonce);
    return { ok: true, rect: box, nonce };
  }

  private async apply(id: string, kept: Kept, text: string, op: 'replace' | 'insert'): Promise<ReplaceResult> {
    if (kept.replacement) return { ok: false, message: 'Already done: undo it first.' };
    const outcome =
      op === 'insert' ? await insertAfterTarget(kept.target, text) : await replaceTarget(kept.target, text);
    if (!outcome.ok) return { ok: false, message: outcome.message };
    kept.replacement = outcome.replacement;
    this.watch(id, kept);
    return {
      ok: true,
      nativeUndo: outcome.replacement.strategy !== 'setRangeText',
      how: `${outcome.replacement.adapter}/${outcome.replacement.strategy}`,
    };
  }

  private async undo(id: string, kept: Kept): Promise<UndoResult> {
    const rep = kept.replacement;
    if (!rep) return { ok: false, message: 'Nothing to undo.' };
    kept.stopWatching?.();
    kept.stopWatching = null;
    const outcome = await undoReplacement(rep);
    if (!outcome.ok) {
      this.watch(id, kept);
      return { ok: false, message: outcome.message };
    }
    kept.replacement = null;
    return outcome;
  }

  /** Tells the UI when the field stops holding the replacement (Ctrl+Z in the field, or an edit). */
  private watch(id: string, kept: Kept) {
    const rep = kept.replacement;
    if (!rep) return;
    const t = rep.target;
    const read = t.kind === 'field' ? () => fieldText(t.el) : () => rootText(t.root);
    const node: Node = t.kind === 'field' ? t.el : t.root;
    let last: 'held' | 'reverted' | 'edited' = 'held';
    const onChange = () => {
      const now = squash(read());
      const state = now === squash(rep.after) ? 'held' : now === squash(rep.before) ? 'reverted' : 'edited';
      if (state === last) return;
      last = state;
      if (state === 'reverted') {
        // Undone in the field (Ctrl+Z): the target is as it was, so Replace may run again.
        kept.replacement = null;
        kept.stopWatching?.();
        kept.stopWatching = null;
      }
      if (state !== 'held') this.deps.deliver({ type: 'replacement-changed', id, state });
    };
    const timers = new Set<ReturnType<typeof setTimeout>>();
    // Editors re-render a moment after the input: look again once they settle.
    const later = () => {
      const t = setTimeout(() => {
        timers.delete(t);
        onChange();
      }, 60);
      timers.add(t);
    };
    const observer = new MutationObserver(later);
    observer.observe(node, { subtree: true, childList: true, characterData: true });
    node.addEventListener('input', later);
    kept.stopWatching = () => {
      observer.disconnect();
      node.removeEventListener('input', later);
      for (const t of timers) clearTimeout(t);
    };
  }
}

/** The kept selection's box now: a field's own box; in a rich editor the selected (or inserted) text's. */
function currentBox(kept: Kept): Box | null {
  const t = kept.target;
  const rect = (r: DOMRect): Box | null =>
    r.width === 0 && r.height === 0 ? null : { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
  if (t.kind === 'field') return t.el.isConnected ? rect(t.el.getBoundingClientRect()) : null;
  const live = rect(targetRect(t));
  if (live && t.range.startContainer.isConnected && !kept.replacement) return live;
  if (t.kind === 'page') return live;
  // Editors re-create their text nodes (a replacement, a re-render): find the text by its offsets.
  if (!t.root.isConnected) return null;
  const rep = kept.replacement;
  const [start, end] = rep ? [rep.insertedStart, rep.insertedEnd] : [t.start, t.start + t.raw.length];
  const r = rangeFromOffsets(t.root, start, end);
  const rects = r.getClientRects();
  return rect(rects.length > 0 ? r.getBoundingClientRect() : t.root.getBoundingClientRect());
}

function elementOf(t: Target): Element | null {
  const node = t.kind === 'field' ? t.el : t.range.startContainer;
  return node.nodeType === 1 ? (node as Element) : node.parentElement;
}

function directionOf(t: Target): 'ltr' | 'rtl' {
  const el = elementOf(t);
  if (!el) return 'ltr';
  return getComputedStyle(el).direction === 'rtl' ? 'rtl' : 'ltr';
}

/** Focus back in the field with the text selected again (after Esc), as before the toolbar opened. */
function restoreSelection(t: Target | null) {
  if (!t || t.kind === 'page') return;
  if (t.kind === 'field') {
    const at = locate(t.el.value, t.text, t.start);
    t.el.focus({ preventScroll: true });
    if (at !== null) t.el.setSelectionRange(at, at + t.text.length);
    return;
  }
  const at = locate(t.root.textContent ?? '', t.raw, t.start);
  t.root.focus({ preventScroll: true });
  if (at === null) return;
  const sel = t.root.ownerDocument.getSelection();
  sel?.removeAllRanges();
  sel?.addRange(rangeFromOffsets(t.root, at, at + t.raw.length));
}
