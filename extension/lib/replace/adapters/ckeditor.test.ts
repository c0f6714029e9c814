// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { adapterFor } from './index';
import { ckeditor } from './ckeditor';

describe('CKEditor 5 adapter', () => {
  it('is chosen by its editable; multi-line text goes by paste (one undo step), never as a beforeinput CKEditor splits per line', () => {
    document.body.innerHTML = '<div class="ck ck-content ck-editor__editable" contenteditable="true"></div>';
    expect(adapterFor(document.body.firstElementChild as HTMLElement)).toBe(ckeditor);
    expect(ckeditor.multiline?.[0]).toBe('paste');
    expect(ckeditor.multiline).not.toContain('beforeinput');
  });
});
