/** The adapter for an element: the first that recognises it, else the generic path. */
import { ckeditor } from './ckeditor';
import { genericEditable, textField } from './generic';
import { slate } from './slate';
import { tinymce } from './tinymce';
import type { EditorAdapter } from './types';

export type { EditorAdapter } from './types';

/** Editor-specific adapters, most specific first. */
export const ADAPTERS: readonly EditorAdapter[] = [textField, slate, tinymce, ckeditor];

export function adapterFor(el: HTMLElement): EditorAdapter {
  return ADAPTERS.find((a) => a.matches(el)) ?? genericEditable;
}
