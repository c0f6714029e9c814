// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { adapterFor } from './index';
import { tinymce } from './tinymce';

describe('TinyMCE adapter', () => {
  it('is chosen for its iframe body and its inline editable; paste comes first so its undo manager records the change', () => {
    const doc = document.implementation.createHTMLDocument('tiny');
    doc.body.className = 'mce-content-body';
    doc.body.contentEditable = 'true';
    expect(adapterFor(doc.body)).toBe(tinymce);
    document.body.innerHTML = '<div class="mce-content-body" contenteditable="true"></div>';
    expect(adapterFor(document.body.firstElementChild as HTMLElement)).toBe(tinymce);
    expect(tinymce.strategies[0]).toBe('paste');
  });
});
