// @vitest-environment happy-dom
/**
 * Selection capture and offsets in a DOM (happy-dom). Replace and undo are extension/lib/replace/replace.test.ts
 * (scripted editors) and tests/e2e/editors.test.ts (the real editors in Chromium).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  captureSelection,
  editableRoot,
  isTextField,
  locate,
  rangeFromOffsets,
  textOffset,
  type Target,
} from '../../../extension/lib/selection';

/** Records input events the way a React/Draft-style editor would listen to them. */
function _inputLog(el: Element) {
  const events: { inputType: string | undefined; data: string | null | undefined }[] = [];
  el.addEventListener('input', (e) =>
    events.push({ inputType: (e as InputEvent).inputType, data: (e as InputEvent).data }),
  );
  return events;
}

function textarea(value: string) {
  document.body.innerHTML = `<textarea id="t"></textarea>`;
  const el = document.getElementById('t') as HTMLTextAreaElement;
  el.value = value;
  return el;
}

function selectIn(el: HTMLTextAreaElement | HTMLInputElement, start: number, end: number) {
  el.focus();
  el.setSelectionRange(start, end);
}

function selectText(node: Node, start: number, end: number) {
  const r = document.createRange();
  r.setStart(node, start);
  r.setEnd(node, end);
  const sel = document.getSelection()!;
  sel.removeAllRanges();
  sel.addRange(r);
}

afterEach(() => {
  document.getSelection()?.removeAllRanges();
  document.body.innerHTML = '';
});

describe('capture', () => {
  it('a textarea selection: the element, offsets and selected text', () => {
    const el = textarea('Our shoes are good. Buy them.');
    selectIn(el, 4, 18);
    expect(captureSelection(document)).toMatchObject({
      kind: 'field',
      el,
      start: 4,
      end: 18,
      text: 'shoes are good',
      editable: true,
    });
  });

  it('a text input selection; read-only fields are not editable (copy only)', () => {
    document.body.innerHTML = `<input id="i" type="text" value="Summer sale now"><input id="r" type="text" readonly value="Read only text">`;
    const i = document.getElementById('i') as HTMLInputElement;
    selectIn(i, 0, 6);
    expect(captureSelection(document)).toMatchObject({ kind: 'field', text: 'Summer', editable: true });
    const r = document.getElementById('r') as HTMLInputElement;
    selectIn(r, 0, 4);
    expect(captureSelection(document)).toMatchObject({ kind: 'field', text: 'Read', editable: false });
  });

  it('ignores password fields, collapsed and whitespace-only selections', () => {
    document.body.innerHTML = `<input id="p" type="password" value="hunter22"><textarea id="t">a    b</textarea>`;
    expect(isTextField(document.getElementById('p'))).toBe(false);
    const t = document.getElementById('t') as HTMLTextAreaElement;
    selectIn(t, 2, 2);
    expect(captureSelection(document)).toBeNull();
    selectIn(t, 1, 5);
    expect(captureSelection(document)).toBeNull();
  });

  it('contenteditable: the outermost editable root, the range and its offset in the root text', () => {
    document.body.innerHTML = `<div id="ce" contenteditable="true"><p>First line.</p><p>This <b>bag</b> is nice.</p></div>`;
    const p2 = document.querySelectorAll('#ce p')[1]!;
    selectText(p2.firstChild!, 0, 5); // "This "
    const t = captureSelection(document);
    expect(t).toMatchObject({
      kind: 'editable',
      text: 'This ',
      raw: 'This ',
      start: 'First line.'.length,
      editable: true,
    });
    expect((t as Extract<Target, { kind: 'editable' }>).root.id).toBe('ce');
    expect(editableRoot(p2.querySelector('b')!.firstChild)).toBe(document.getElementById('ce'));
  });

  it('plain page text is a copy-only target; contenteditable="false" islands are not editable', () => {
    document.body.innerHTML = `<p id="p">Plain text on the page.</p><div contenteditable="true"><span id="x" contenteditable="false">fixed</span></div>`;
    selectText(document.getElementById('p')!.firstChild!, 0, 5);
    expect(captureSelection(document)).toMatchObject({ kind: 'page', text: 'Plain', editable: false });
    expect(editableRoot(document.getElementById('x')!.firstChild)).toBeNull();
  });

  it('never captures the extension UI itself', () => {
    document.body.innerHTML = `<div id="ui"><p id="q">Result text</p></div>`;
    selectText(document.getElementById('q')!.firstChild!, 0, 6);
    const ui = document.getElementById('ui')!;
    expect(captureSelection(document, { ignore: (n) => ui.contains(n) })).toBeNull();
  });
});

describe('offsets', () => {
  it('textOffset and rangeFromOffsets are inverse across element boundaries', () => {
    document.body.innerHTML = `<div id="r"><p>ab<i>cd</i></p><p>ef</p></div>`;
    const root = document.getElementById('r')!;
    const i = root.querySelector('i')!.firstChild!;
    expect(textOffset(root, i, 1)).toBe(3);
    const range = rangeFromOffsets(root, 1, 5);
    expect(range.toString()).toBe('bcde');
  });

  it('locate: where it was, else its only occurrence, else nothing', () => {
    expect(locate('abc shoes xyz', 'shoes', 4)).toBe(4);
    expect(locate('NEW abc shoes xyz', 'shoes', 4)).toBe(8);
    expect(locate('shoes and shoes', 'shoes', 3)).toBeNull();
    expect(locate('nothing here', 'shoes', 0)).toBeNull();
  });
});
