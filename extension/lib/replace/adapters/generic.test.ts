// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { adapterFor } from './index';
import { genericEditable, textField } from './generic';

const el = (html: string) => {
  document.body.innerHTML = html;
  return document.body.firstElementChild as HTMLElement;
};

describe('generic adapters', () => {
  it('text fields: the browser command (native undo), then setRangeText', () => {
    expect(adapterFor(el('<textarea></textarea>'))).toBe(textField);
    expect(adapterFor(el('<input type="text">'))).toBe(textField);
    expect(textField.strategies).toEqual(['execCommand', 'setRangeText']);
  });

  it('every other editable, whatever site it is on, takes the generic path: beforeinput, the command, paste', () => {
    for (const html of [
      '<div contenteditable="true"></div>',
      '<div class="ProseMirror" contenteditable="true"></div>',
      '<div data-lexical-editor="true" contenteditable="true"></div>',
    ]) {
      expect(adapterFor(el(html))).toBe(genericEditable);
    }
    expect(genericEditable.strategies).toEqual(['beforeinput', 'execCommand', 'paste']);
    // Line breaks: the editor's own paste (one undo step, blocks split in its model) before the command, whose
    // DOM block splits Draft.js misreads.
    expect(genericEditable.multiline).toEqual(['beforeinput', 'paste', 'execCommand']);
  });
});
