// @vitest-environment happy-dom
/**
 * Selection capture and replace/undo logic in a DOM (happy-dom). happy-dom has no editing engine, so
 * `execCommand` is passed in: `noExec` (the browser refuses) exercises the fallbacks, and `fakeEditor`
 * (a stand-in for the browser's insertText/undo) exercises the execCommand path's verification. The real
 * execCommand and the page's own undo are covered end to end in Chromium (tests/e2e/extension.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  captureSelection,
  editableRoot,
  isTextField,
  locate,
  rangeFromOffsets,
  replaceTarget,
  textOffset,
  undoReplacement,
  type ExecCommand,
  type Target,
} from '../../../extension/lib/selection';

const noExec: ExecCommand = () => false;

/** Records input events the way a React/Draft-style editor would listen to them. */
function inputLog(el: Element) {
  const events: { inputType: string | undefined; data: string | null | undefined }[] = [];
  el.addEventListener('input', (e) => events.push({ inputType: (e as InputEvent).inputType, data: (e as InputEvent).data }));
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
    expect(captureSelection(document)).toMatchObject({ kind: 'field', el, start: 4, end: 18, text: 'shoes are good', editable: true });
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
    expect(t).toMatchObject({ kind: 'editable', text: 'This ', raw: 'This ', start: 'First line.'.length, editable: true });
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

describe('replace in a field', () => {
  it('falls back to setRangeText + an input event when execCommand is refused', () => {
    const el = textarea('Our shoes are good. Buy them.');
    selectIn(el, 4, 18);
    const t = captureSelection(document)!;
    const log = inputLog(el);
    el.blur(); // focus moved into the extension's panel
    const rep = replaceTarget(t, 'sneakers are great', noExec);
    expect(el.value).toBe('Our sneakers are great. Buy them.');
    expect(rep).toMatchObject({ method: 'setRangeText', insertedStart: 4, insertedEnd: 22, before: 'Our shoes are good. Buy them.', after: 'Our sneakers are great. Buy them.' });
    expect(log).toEqual([{ inputType: 'insertReplacementText', data: 'sneakers are great' }]);
  });

  it('uses execCommand when it works, restoring the selection first, and never inserts twice', () => {
    const el = textarea('Our shoes are good.');
    selectIn(el, 4, 9);
    const t = captureSelection(document)!;
    el.setSelectionRange(0, 0); // the page moved the caret meanwhile
    const calls: string[] = [];
    const exec: ExecCommand = (cmd, value) => {
      calls.push(`${cmd}:${el.selectionStart}-${el.selectionEnd}`);
      el.setRangeText(value!, el.selectionStart!, el.selectionEnd!, 'end');
      return true;
    };
    const rep = replaceTarget(t, 'boots', exec);
    expect(calls).toEqual(['insertText:4-9']);
    expect(rep.method).toBe('execCommand');
    expect(el.value).toBe('Our boots are good.');
  });

  it('falls back when execCommand says yes but changes nothing', () => {
    const el = textarea('Our shoes are good.');
    selectIn(el, 4, 9);
    const rep = replaceTarget(captureSelection(document)!, 'boots', () => true);
    expect(rep.method).toBe('setRangeText');
    expect(el.value).toBe('Our boots are good.');
  });

  it('finds the text when the page changed the value before it; refuses when the text is gone', () => {
    const el = textarea('Our shoes are good.');
    selectIn(el, 4, 9);
    const t = captureSelection(document)!;
    el.value = 'Hey! Our shoes are good.';
    replaceTarget(t, 'boots', noExec);
    expect(el.value).toBe('Hey! Our boots are good.');
    el.value = 'Completely different.';
    expect(() => replaceTarget(t, 'boots', noExec)).toThrow(/changed since/);
  });

  it('refuses page text and read-only fields', () => {
    document.body.innerHTML = `<p id="p">Plain</p>`;
    selectText(document.getElementById('p')!.firstChild!, 0, 5);
    expect(() => replaceTarget(captureSelection(document)!, 'x', noExec)).toThrow(/not editable/);
  });
});

describe('undo in a field', () => {
  it("uses the page's own undo when it restores the original", () => {
    const el = textarea('Our shoes are good.');
    selectIn(el, 4, 9);
    const history: string[] = [];
    const editor: ExecCommand = (cmd, value) => {
      if (cmd === 'insertText') {
        history.push(el.value);
        el.setRangeText(value!, el.selectionStart!, el.selectionEnd!, 'end');
        return true;
      }
      if (cmd === 'undo' && history.length) {
        el.value = history.pop()!;
        return true;
      }
      return false;
    };
    const rep = replaceTarget(captureSelection(document)!, 'boots', editor);
    expect(undoReplacement(rep, editor)).toBe('native');
    expect(el.value).toBe('Our shoes are good.');
  });

  it('puts the original back itself when native undo does nothing (e.g. after the setRangeText fallback)', () => {
    const el = textarea('Our shoes are good.');
    selectIn(el, 4, 9);
    const rep = replaceTarget(captureSelection(document)!, 'sneakers', noExec);
    const log = inputLog(el);
    expect(undoReplacement(rep, noExec)).toBe('manual');
    expect(el.value).toBe('Our shoes are good.');
    expect(log).toEqual([{ inputType: 'insertReplacementText', data: 'shoes' }]);
  });

  it('leaves the field alone when the replaced text was edited since', () => {
    const el = textarea('Our shoes are good.');
    selectIn(el, 4, 9);
    const rep = replaceTarget(captureSelection(document)!, 'boots', noExec);
    el.value = 'Our bo0ts are good.';
    expect(undoReplacement(rep, noExec)).toBe('changed-since');
    expect(el.value).toBe('Our bo0ts are good.');
  });
});

describe('replace and undo in a contenteditable', () => {
  function editor(html: string) {
    document.body.innerHTML = `<div id="ce" contenteditable="true">${html}</div>`;
    return document.getElementById('ce')!;
  }

  it('falls back to Range manipulation + an input event, keeping the rest of the content', () => {
    const ce = editor('<p>This bag is nice.</p><p>Second stays.</p>');
    const p1 = ce.querySelector('p')!;
    selectText(p1.firstChild!, 5, 17); // "bag is nice."
    const t = captureSelection(document)!;
    const log = inputLog(ce);
    const rep = replaceTarget(t, 'tote is lovely!', noExec);
    expect(rep.method).toBe('range');
    expect(ce.querySelectorAll('p')[0]!.textContent).toBe('This tote is lovely!');
    expect(ce.querySelectorAll('p')[1]!.textContent).toBe('Second stays.');
    expect(log).toEqual([{ inputType: 'insertReplacementText', data: 'tote is lovely!' }]);
    expect(rep).toMatchObject({ insertedStart: 5, insertedEnd: 5 + 'tote is lovely!'.length });
  });

  it('replaces by offsets even after the DOM was rebuilt (a live Range would have collapsed)', () => {
    const ce = editor('<p>This bag is nice.</p>');
    selectText(ce.querySelector('p')!.firstChild!, 5, 8); // "bag"
    const t = captureSelection(document)!;
    ce.innerHTML = '<p>This bag is nice.</p>'; // e.g. an undo or a framework re-render re-created the nodes
    replaceTarget(t, 'tote', noExec);
    expect(ce.textContent).toBe('This tote is nice.');
  });

  it('multi-line results become line breaks, not literal newlines', () => {
    const ce = editor('<p>Old text</p>');
    selectText(ce.querySelector('p')!.firstChild!, 0, 8);
    replaceTarget(captureSelection(document)!, 'Line one\nLine two', noExec);
    expect(ce.querySelector('p')!.innerHTML).toBe('Line one<br>Line two');
  });

  it('undo puts the original back over the inserted text', () => {
    const ce = editor('<p>This bag is nice.</p><p>Second stays.</p>');
    selectText(ce.querySelector('p')!.firstChild!, 5, 8);
    const rep = replaceTarget(captureSelection(document)!, 'leather tote', noExec);
    expect(ce.textContent).toBe('This leather tote is nice.Second stays.');
    expect(undoReplacement(rep, noExec)).toBe('manual');
    expect(ce.textContent).toBe('This bag is nice.Second stays.');
    expect(ce.querySelectorAll('p')).toHaveLength(2);
  });
});
