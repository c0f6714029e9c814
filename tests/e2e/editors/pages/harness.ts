/**
 * What every editor page shares: it publishes `window.__editorTest` (see content.ts) on the window it runs in,
 * counts the editor's own change events, and enables the composer-like `#post` button on the first change.
 */
import type { EditorTestApi } from './content';

declare global {
  interface Window {
    __editorTest?: EditorTestApi;
  }
}

/** The case id: `?case=` (frames shared by several cases) or `<html data-case>` (written by build.ts). */
function caseName(): string {
  return new URLSearchParams(location.search).get('case') ?? document.documentElement.dataset.case ?? 'unknown';
}

export interface EditorTest {
  /** Call from the editor's change listener. Changes before `ready()` (the initial content) are not counted. */
  changed(): void;
  /** Call once the editor is created and holds its initial content. */
  ready(): void;
}

export function editorTest(text: () => string): EditorTest {
  const api: EditorTestApi = { name: caseName(), ready: false, text, changes: 0 };
  window.__editorTest = api;
  return {
    changed() {
      if (!api.ready) return;
      api.changes++;
      const post = document.getElementById('post');
      if (post instanceof HTMLButtonElement) post.disabled = false;
    },
    ready() {
      api.ready = true;
    },
  };
}

/** The element a page mounts its editor into. */
export function mount(id = 'editor'): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from the page`);
  return el;
}
