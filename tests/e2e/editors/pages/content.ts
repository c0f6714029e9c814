/**
 * The text every editor page starts with, shared by the pages (browser) and the fixtures (Node).
 * Plain constants only: nothing here may touch the DOM, since fixtures.ts imports it under Node.
 */
export const FIRST = 'Keep this opening line.';
export const SECOND = 'Our shoes are good. The middle sentence is plain and dull. The last sentence stays.';

/** Two paragraphs, separated by one '\n' (the separator every page's `text()` uses). */
export const INITIAL_TEXT = `${FIRST}\n${SECOND}`;
export const INITIAL_HTML = `<p>${FIRST}</p><p>${SECOND}</p>`;

/** The object each page puts on the window that holds its editor's model. */
export interface EditorTestApi {
  /** The case id (from `?case=` or `<html data-case>`). */
  name: string;
  /** True once the editor is created and its initial content is in place. */
  ready: boolean;
  /** The editor's text read from its own model through its API (never from the DOM). */
  text(): string;
  /** How many change events the editor emitted since it became ready. */
  changes: number;
}
