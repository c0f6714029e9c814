// @vitest-environment happy-dom
/**
 * The replace/undo orchestration against scripted editors in happy-dom: an editor that owns its model and
 * takes `beforeinput` (Slate, CKEditor), one that reverts DOM changes it did not make and takes paste, one
 * that takes nothing, one that mangles the text. happy-dom has no editing engine, so the browser's
 * `insertText`/`undo` commands are passed in. The real editors are covered in Chromium
 * (tests/e2e/editors.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { captureSelection, type Target } from '../selection';
import { insertAfterTarget, replaceTarget, undoReplacement, type ReplaceEnv, type Replacement } from './replace';
import type { ExecCommand } from './strategies';

const tick = () => new Promise<void>((r) => setTimeout(r, 0));
const env = (exec: ExecCommand = () => false): ReplaceEnv => ({
  exec,
  settle: async () => (await tick(), tick()),
  mac: false,
});

/** The browser's insertText/undo for a textarea, as an undo stack of values. */
function fieldEditingEngine(el: HTMLTextAreaElement | HTMLInputElement): ExecCommand {
  const history: string[] = [];
  return (cmd, value) => {
    if (cmd === 'insertText') {
      history.push(el.value);
      el.setRangeText(value!, el.selectionStart!, el.selectionEnd!, 'end');
      el.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertText', data: value! }));
      return true;
    }
    if (cmd === 'undo' && history.length) {
      el.value = history.pop()!;
      return true;
    }
    return false;
  };
}

/** The browser's insertText on the document selection of a contenteditable (DOM only). */
const domInsertText: ExecCommand = (cmd, value) => {
  if (cmd !== 'insertText') return false;
  const sel = document.getSelection()!;
  const r = sel.getRangeAt(0);
  r.deleteContents();
  r.insertNode(document.createTextNode(value!));
  return true;
};

/**
 * An editor that owns its model (one string per paragraph) and renders the DOM from it, a moment after each
 * change, as React editors do. `takes` says which inputs it handles; its undo is Ctrl+Z.
 */
function modelEditor(paragraphs: string[], takes: { beforeinput?: boolean; paste?: boolean; revertsDom?: boolean }) {
  document.body.innerHTML = `<div id="ed" contenteditable="true"></div>`;
  const root = document.getElementById('ed')!;
  const model = { paras: [...paragraphs], undo: [] as string[][] };
  let rendering = false;
  const render = () => {
    rendering = true;
    root.replaceChildren(...model.paras.map((t) => Object.assign(document.createElement('p'), { textContent: t })));
    setTimeout(() => (rendering = false), 0);
  };
  render();
  /** Applies text over the current DOM selection to the model (selection mapped by text offsets). */
  const apply = (text: string) => {
    const sel = document.getSelection()!;
    const r = sel.getRangeAt(0);
    const pEl = (n: Node) => (n.nodeType === 1 ? (n as Element) : n.parentElement)!.closest('p')!;
    const i = [...root.children].indexOf(pEl(r.startContainer));
    const p = model.paras[i]!;
    model.undo.push([...model.paras]);
    model.paras[i] = p.slice(0, r.startOffset) + text + p.slice(r.endOffset);
    setTimeout(render, 0);
  };
  if (takes.beforeinput) {
    root.addEventListener('beforeinput', (e) => {
      const ie = e as InputEvent;
      e.preventDefault();
      apply(ie.data ?? (ie as InputEvent & { dataTransfer?: DataTransfer }).dataTransfer?.getData('text/plain') ?? '');
    });
  }
  if (takes.paste) {
    root.addEventListener('paste', (e) => {
      e.preventDefault();
      apply((e as ClipboardEvent).clipboardData!.getData('text/plain'));
    });
  }
  if (takes.revertsDom) {
    new MutationObserver(() => {
      if (!rendering) render();
    }).observe(root, { subtree: true, childList: true, characterData: true });
  }
  root.addEventListener('keydown', (e) => {
    if (e.ctrlKey && e.key === 'z' && model.undo.length) {
      e.preventDefault();
      model.paras = model.undo.pop()!;
      setTimeout(render, 0);
    }
  });
  return { root, model };
}

function selectIn(root: HTMLElement, needle: string): Target {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const i = (n as Text).data.indexOf(needle);
    if (i < 0) continue;
    const r = document.createRange();
    r.setStart(n, i);
    r.setEnd(n, i + needle.length);
    document.getSelection()!.removeAllRanges();
    document.getSelection()!.addRange(r);
    return captureSelection(document)!;
  }
  throw new Error(`${needle} not found`);
}

function textarea(value: string, start: number, end: number) {
  document.body.innerHTML = `<textarea id="t"></textarea>`;
  const el = document.getElementById('t') as HTMLTextAreaElement;
  el.value = value;
  el.focus();
  el.setSelectionRange(start, end);
  return el;
}

const expectOk = (o: Awaited<ReturnType<typeof replaceTarget>>): Replacement => {
  if (!o.ok) throw new Error(`replace failed: ${o.reason} ${o.message}`);
  return o.replacement;
};

afterEach(() => {
  document.getSelection()?.removeAllRanges();
  document.body.innerHTML = '';
});

describe('text fields', () => {
  it("the browser's insertText first, verified; its undo is the field's own", async () => {
    const el = textarea('Our shoes are good.', 4, 9);
    const t = captureSelection(document)!;
    el.setSelectionRange(0, 0); // the page moved the caret meanwhile
    const exec = fieldEditingEngine(el);
    const rep = expectOk(await replaceTarget(t, 'boots', env(exec)));
    expect(rep).toMatchObject({
      strategy: 'execCommand',
      before: 'Our shoes are good.',
      after: 'Our boots are good.',
      insertedStart: 4,
      insertedEnd: 9,
    });
    expect(await undoReplacement(rep, env(exec))).toEqual({ ok: true, how: 'native' });
    expect(el.value).toBe('Our shoes are good.');
  });

  it('setRangeText + an input event when the command is refused; undo then puts the original back itself', async () => {
    const el = textarea('Our shoes are good. Buy them.', 4, 18);
    const t = captureSelection(document)!;
    const log: (string | null)[] = [];
    el.addEventListener('input', (e) => log.push(`${(e as InputEvent).inputType}:${(e as InputEvent).data}`));
    const rep = expectOk(await replaceTarget(t, 'sneakers are great', env()));
    expect(rep.strategy).toBe('setRangeText');
    expect(el.value).toBe('Our sneakers are great. Buy them.');
    expect(log).toEqual(['insertReplacementText:sneakers are great']);
    expect(await undoReplacement(rep, env())).toEqual({ ok: true, how: 'manual' });
    expect(el.value).toBe('Our shoes are good. Buy them.');
  });

  it('a field that rewrites what it is given (a controlled input that rejects the change) is put back, not reported as replaced', async () => {
    const el = textarea('Our shoes are good.', 4, 9);
    const t = captureSelection(document)!;
    el.addEventListener('input', () => {
      el.value = el.value.toUpperCase();
    });
    const o = await replaceTarget(t, 'boots', env(fieldEditingEngine(el)));
    expect(o).toMatchObject({ ok: false, reason: 'unexpected' });
    expect(el.value).toBe('Our shoes are good.');
  });

  it('finds the text when the page changed the value before it; refuses when it is gone; respects maxlength', async () => {
    const el = textarea('Our shoes are good.', 4, 9);
    const t = captureSelection(document)!;
    el.value = 'Hey! Our shoes are good.';
    expectOk(await replaceTarget(t, 'boots', env()));
    expect(el.value).toBe('Hey! Our boots are good.');
    el.value = 'Completely different.';
    expect(await replaceTarget(t, 'boots', env())).toMatchObject({ ok: false, reason: 'moved' });
    const short = textarea('Our shoes are good.', 4, 9);
    short.maxLength = 22;
    expect(await replaceTarget(captureSelection(document)!, 'sneakers, boots and sandals', env())).toMatchObject({
      ok: false,
      reason: 'too_long',
      message: expect.stringMatching(/at most 22 characters/),
    });
    expect(short.value).toBe('Our shoes are good.');
  });

  it('refuses page text and read-only fields', async () => {
    document.body.innerHTML = `<p id="p">Plain</p>`;
    selectIn(document.getElementById('p')!, 'Plain');
    expect(await replaceTarget(captureSelection(document)!, 'x', env())).toMatchObject({
      ok: false,
      reason: 'not_editable',
    });
  });

  it('undo leaves the field alone when the replaced text was edited since; says so when the user already undid it', async () => {
    const el = textarea('Our shoes are good.', 4, 9);
    const rep = expectOk(await replaceTarget(captureSelection(document)!, 'boots', env()));
    el.value = 'Our bo0ts are good.';
    expect(await undoReplacement(rep, env())).toMatchObject({ ok: false, reason: 'changed-since' });
    expect(el.value).toBe('Our bo0ts are good.');
    el.value = 'Our shoes are good.';
    expect(await undoReplacement(rep, env())).toEqual({ ok: true, how: 'already' });
  });
});

describe('rich editors', () => {
  it('an editor that owns its model takes the synthetic beforeinput: its model changes, its own undo restores it', async () => {
    const { root, model } = modelEditor(['Keep this.', 'Our shoes are good. The dull middle. The end.'], {
      beforeinput: true,
    });
    const t = selectIn(root, 'The dull middle.');
    // The browser command would only change the DOM here (what Slate does with it): it must not be needed.
    const rep = expectOk(await replaceTarget(t, 'A bright middle!', env(domInsertText)));
    expect(rep.strategy).toBe('beforeinput');
    expect(model.paras).toEqual(['Keep this.', 'Our shoes are good. A bright middle! The end.']);
    expect(root.textContent).toBe('Keep this.Our shoes are good. A bright middle! The end.');
    expect(await undoReplacement(rep, env(domInsertText))).toEqual({ ok: true, how: 'native' });
    expect(model.paras).toEqual(['Keep this.', 'Our shoes are good. The dull middle. The end.']);
  });

  it('multi-line text goes as insertReplacementText with a DataTransfer', async () => {
    const { root } = modelEditor(['One two three.'], {});
    const seen: { inputType: string; data: string | null; dt: string | undefined }[] = [];
    root.addEventListener('beforeinput', (e) => {
      const ie = e as InputEvent & { dataTransfer?: DataTransfer | null };
      seen.push({ inputType: ie.inputType, data: ie.data, dt: ie.dataTransfer?.getData('text/plain') });
    });
    await replaceTarget(selectIn(root, 'two'), 'a\nb', env());
    expect(seen[0]).toMatchObject({ inputType: 'insertReplacementText', dt: 'a\nb' });
    expect(seen[0]!.data ?? '').toBe(''); // null in Chromium, '' in happy-dom
  });

  it('an editor that reverts DOM-only changes: the command is seen to be reverted, then paste is taken', async () => {
    const { root, model } = modelEditor(['Our shoes are good. The dull middle. The end.'], {
      revertsDom: true,
      paste: true,
    });
    const rep = expectOk(
      await replaceTarget(selectIn(root, 'The dull middle.'), 'A bright middle!', env(domInsertText)),
    );
    expect(rep.strategy).toBe('paste');
    expect(model.paras).toEqual(['Our shoes are good. A bright middle! The end.']);
  });

  it('an editor that takes nothing: nothing changes and the outcome says so (the panel offers Copy)', async () => {
    const { root, model } = modelEditor(['Our shoes are good.'], { revertsDom: true });
    const o = await replaceTarget(selectIn(root, 'shoes'), 'boots', env(domInsertText));
    expect(o).toMatchObject({ ok: false, reason: 'refused', tried: ['beforeinput', 'execCommand', 'paste'] });
    expect(model.paras).toEqual(['Our shoes are good.']);
    expect(root.textContent).toBe('Our shoes are good.');
  });

  it('a plain contenteditable: the command, and the undo command', async () => {
    document.body.innerHTML = `<div id="ce" contenteditable="true"><p>This bag is nice.</p><p>Second stays.</p></div>`;
    const root = document.getElementById('ce')!;
    const snapshots: string[] = [];
    const exec: ExecCommand = (cmd, value) => {
      if (cmd === 'insertText') {
        snapshots.push(root.innerHTML);
        return domInsertText(cmd, value);
      }
      if (cmd === 'undo' && snapshots.length) {
        root.innerHTML = snapshots.pop()!;
        return true;
      }
      return false;
    };
    const rep = expectOk(await replaceTarget(selectIn(root, 'bag is nice.'), 'tote is lovely!', env(exec)));
    expect(rep).toMatchObject({ strategy: 'execCommand', insertedStart: 5, insertedEnd: 5 + 'tote is lovely!'.length });
    expect(root.textContent).toBe('This tote is lovely!Second stays.');
    expect(await undoReplacement(rep, env(exec))).toEqual({ ok: true, how: 'native' });
    expect(root.innerHTML).toBe('<p>This bag is nice.</p><p>Second stays.</p>');
  });

  it('an editor that mangles the insertion is undone with its own undo, and the outcome is not "replaced"', async () => {
    const { root, model } = modelEditor(['Our shoes are good.'], {});
    root.addEventListener('paste', (e) => {
      e.preventDefault();
      model.undo.push([...model.paras]);
      model.paras = ['Our boots boots are good.'];
      setTimeout(
        () => root.replaceChildren(Object.assign(document.createElement('p'), { textContent: model.paras[0] })),
        0,
      );
    });
    const o = await replaceTarget(selectIn(root, 'shoes'), 'boots', env());
    expect(o).toMatchObject({ ok: false, reason: 'unexpected' });
    expect(model.paras).toEqual(['Our shoes are good.']);
  });

  it('replaces by offsets even after the DOM was re-created (a live Range would have collapsed)', async () => {
    const { root, model } = modelEditor(['This bag is nice.'], { beforeinput: true });
    const t = selectIn(root, 'bag');
    root.innerHTML = '<p>This bag is nice.</p>';
    expectOk(await replaceTarget(t, 'tote', env()));
    expect(model.paras).toEqual(['This tote is nice.']);
  });
});

describe('insert below', () => {
  it('a textarea: a new line after the line holding the selection (never mid-sentence), verified; undone by the field', async () => {
    const el = textarea('Our shoes are good. Buy them.\nSecond line.', 4, 9);
    const t = captureSelection(document)!;
    const exec = fieldEditingEngine(el);
    const rep = expectOk(await insertAfterTarget(t, '  Boots, better.\n', env(exec)));
    expect(el.value).toBe('Our shoes are good. Buy them.\nBoots, better.\nSecond line.');
    expect(rep).toMatchObject({ original: '', insertedStart: 29, insertedEnd: 29 + '\nBoots, better.'.length });
    expect(await undoReplacement(rep, env(exec))).toEqual({ ok: true, how: 'native' });
    expect(el.value).toBe('Our shoes are good. Buy them.\nSecond line.');
  });

  it('without the browser command: setRangeText, and undo takes the inserted line out again itself', async () => {
    const el = textarea('Only line.', 0, 4);
    const rep = expectOk(await insertAfterTarget(captureSelection(document)!, 'Added.', env()));
    expect(rep.strategy).toBe('setRangeText');
    expect(el.value).toBe('Only line.\nAdded.');
    expect(await undoReplacement(rep, env())).toEqual({ ok: true, how: 'manual' });
    expect(el.value).toBe('Only line.');
  });

  it('a one-line input has no line below: refused with a plain sentence, nothing changed', async () => {
    document.body.innerHTML = '<input id="i" value="Short title">';
    const el = document.getElementById('i') as HTMLInputElement;
    el.focus();
    el.setSelectionRange(0, 5);
    const o = await insertAfterTarget(captureSelection(document)!, 'More', env());
    expect(o).toMatchObject({ ok: false, reason: 'refused', message: expect.stringContaining('one-line field') });
    expect(el.value).toBe('Short title');
  });

  it('a contenteditable: after the end of the paragraph holding the selection, the next paragraph untouched', async () => {
    document.body.innerHTML =
      '<div id="ce" contenteditable="true"><p>This bag is nice. Really.</p><p>Second stays.</p></div>';
    const root = document.getElementById('ce')!;
    const rep = expectOk(await insertAfterTarget(selectIn(root, 'bag is'), 'A tote.', env(domInsertText)));
    expect(root.textContent).toBe('This bag is nice. Really.\nA tote.Second stays.');
    expect(rep.insertedStart).toBe('This bag is nice. Really.'.length);
  });
});
