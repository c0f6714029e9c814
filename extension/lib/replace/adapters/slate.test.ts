// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { adapterFor } from './index';
import { slate } from './slate';

describe('Slate adapter', () => {
  it('is chosen by the editable element, and never uses the DOM-only insertText command (its model would not change)', () => {
    document.body.innerHTML = '<div data-slate-editor="true" contenteditable="true"></div>';
    expect(adapterFor(document.body.firstElementChild as HTMLElement)).toBe(slate);
    expect(slate.strategies).not.toContain('execCommand');
    expect(slate.strategies[0]).toBe('beforeinput');
  });
});
