/**
 * The ways text can be put into a field, each the way some editor expects to receive it. Each strategy
 * acts on the current selection (the caller selects the target first) and says only whether something
 * took it: "handled" means an editor called preventDefault() on our event, or the browser's editing
 * command ran; whether the field now holds the text is decided by reading it back (replace.ts).
 *
 * - `beforeinput`: a synthetic `beforeinput` (insertText, or insertReplacementText with a DataTransfer
 *   for multi-line text): editors that own their model (Slate, CKEditor 5, Lexical) apply it to the
 *   model and call preventDefault(). A plain contenteditable ignores it (no default action).
 * - `execCommand`: `document.execCommand('insertText')`: the browser's editing pipeline, with the
 *   page's native undo. Editors that read the DOM back (ProseMirror, Draft.js, Quill) take it.
 * - `paste`: a synthetic `paste` carrying the text in `clipboardData`: editors that handle paste themselves.
 * - `setRangeText` (text fields only): sets the value and fires `input` (React's value tracker sees it).
 *
 * Depends on: the DOM only (events are built in the target's own window so they pass `instanceof`).
 */
import type { FieldElement } from '../selection';

export type Strategy = 'beforeinput' | 'execCommand' | 'paste' | 'setRangeText';
export type UndoStrategy = 'keydown' | 'historyUndo' | 'execCommand';
export type Attempt = 'handled' | 'unhandled';

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

type Win = Window & typeof globalThis;
const windowOf = (el: Node): Win => ((el.ownerDocument ?? (el as Document)).defaultView ?? globalThis) as Win;

function dataTransfer(view: Win, text: string): DataTransfer | null {
  try {
    const dt = new view.DataTransfer();
    dt.setData('text/plain', text);
    return dt;
  } catch {
    return null;
  }
}

export function fireInput(el: Element, inputType: string, data: string | null): void {
  const view = windowOf(el);
  const Ctor = typeof view.InputEvent === 'function' ? view.InputEvent : null;
  el.dispatchEvent(
    Ctor
      ? new Ctor('input', { bubbles: true, composed: true, inputType, data })
      : new view.Event('input', { bubbles: true }),
  );
}

/** Dispatches `event` at `el`: handled when a listener prevented its default. */
const prevented = (el: Element, event: Event): Attempt => (
  el.dispatchEvent(event), event.defaultPrevented ? 'handled' : 'unhandled'
);

export interface InsertContext {
  /** The element the user edits: the editable root, or the text field. */
  el: HTMLElement | FieldElement;
  text: string;
  exec: ExecCommand;
  /** Fields only: where the selection is (setRangeText needs it explicitly). */
  span?: { start: number; end: number };
}

export function insertBy(strategy: Strategy, { el, text, exec, span }: InsertContext): Attempt {
  const view = windowOf(el);
  switch (strategy) {
    case 'beforeinput': {
      if (typeof view.InputEvent !== 'function') return 'unhandled';
      const multiline = text.includes('\n');
      const dt = multiline ? dataTransfer(view, text) : null;
      const init: InputEventInit & { dataTransfer?: DataTransfer | null } =
        multiline && dt
          ? { inputType: 'insertReplacementText', data: null, dataTransfer: dt }
          : { inputType: 'insertText', data: text };
      return prevented(
        el,
        new view.InputEvent('beforeinput', { ...init, bubbles: true, cancelable: true, composed: true }),
      );
    }
    case 'paste': {
      const dt = dataTransfer(view, text);
      if (!dt || typeof view.ClipboardEvent !== 'function') return 'unhandled';
      return prevented(
        el,
        new view.ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true, composed: true }),
      );
    }
    case 'execCommand':
      return exec('insertText', text) ? 'handled' : 'unhandled';
    case 'setRangeText': {
      if (!span || !('setRangeText' in el)) return 'unhandled';
      el.setRangeText(text, span.start, span.end, 'end');
      fireInput(el, 'insertReplacementText', text);
      return 'handled';
    }
  }
}

/** The editor's own undo: the shortcut an editor listens for, its `historyUndo` input, or the browser's undo. */
export function undoBy(
  strategy: UndoStrategy,
  el: HTMLElement | FieldElement,
  exec: ExecCommand,
  mac: boolean,
): Attempt {
  const view = windowOf(el);
  switch (strategy) {
    case 'keydown': {
      // keyCode/which too: Draft.js, CKEditor and TinyMCE read them, Slate and Quill read `key`.
      const init = {
        key: 'z',
        code: 'KeyZ',
        keyCode: 90,
        which: 90,
        ctrlKey: !mac,
        metaKey: mac,
        bubbles: true,
        cancelable: true,
        composed: true,
      };
      return prevented(el, new view.KeyboardEvent('keydown', init));
    }
    case 'historyUndo':
      if (typeof view.InputEvent !== 'function') return 'unhandled';
      return prevented(
        el,
        new view.InputEvent('beforeinput', {
          inputType: 'historyUndo',
          bubbles: true,
          cancelable: true,
          composed: true,
        }),
      );
    case 'execCommand':
      return exec('undo') ? 'handled' : 'unhandled';
  }
}
