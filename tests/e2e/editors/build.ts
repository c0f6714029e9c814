/**
 * Builds the real-editor test site: every page script in pages/ is bundled from the editors' npm packages in
 * ONE esbuild call (ESM with shared chunks, so React is bundled once for Draft, Slate and the React input),
 * and every case gets its `<name>.html`. The frame cases are HTML only: their frames load the same scripts
 * (frame/textarea-inner.html runs textarea.js, the srcdoc frame runs contenteditable.js).
 *
 * Layout of outDir: `<case>.html`, `<entry>.js` (+ `<entry>.css` when the editor ships CSS), `chunks/`,
 * `assets/`, `frame/textarea-inner.html`, `frame/nested-middle.html`, `index.html` (links to every case).
 * `__CROSS_ORIGIN__` in HTML is replaced by server.ts with the other server's origin.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { FIRST, INITIAL_HTML, INITIAL_TEXT, SECOND } from './pages/content';

const PAGES_DIR = join(import.meta.dirname, 'pages');

/** Placeholder server.ts substitutes with the second origin when it serves HTML. */
export const CROSS_ORIGIN_PLACEHOLDER = '__CROSS_ORIGIN__';

/** Bundled page scripts: entry name → source file in pages/. */
const ENTRIES: Record<string, string> = {
  lexical: 'lexical.ts',
  draft: 'draft.tsx',
  prosemirror: 'prosemirror.ts',
  tiptap: 'tiptap.ts',
  quill: 'quill.ts',
  slate: 'slate.tsx',
  ckeditor: 'ckeditor.ts',
  tinymce: 'tinymce.ts',
  contenteditable: 'contenteditable.ts',
  textarea: 'textarea.ts',
  input: 'input.ts',
  'react-input': 'react-input.tsx',
};

interface HtmlPage {
  /** Path of the HTML file inside outDir. */
  file: string;
  /** `<html data-case>`, read by the page harness when the URL has no `?case=`. */
  id: string;
  title: string;
  body: string;
  /** Entry name from ENTRIES, or none (the frame cases' top pages only hold iframes). */
  script?: string;
  /** Inner frame documents have no `<h1>` / `#plain`. */
  inner?: boolean;
}

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const POST = '<button id="post" disabled>Post</button>';
const editorDiv = (attrs = '') => `<div id="editor" class="box"${attrs}></div>`;

const STYLE = `
  body { margin: 24px; font: 15px/1.5 system-ui, sans-serif; color: #222; }
  .box { width: 640px; min-height: 90px; margin: 12px 0; padding: 6px 10px; border: 1px solid #999; }
  textarea#field, input#field { display: block; width: 640px; margin: 12px 0; padding: 6px; font: inherit; }
  #post { display: block; margin-top: 8px; }
  /* Frames sit off the page origin (margins, borders, padding) so frame-to-page coordinates matter. */
  iframe { display: block; background: #fff; }
  #frame { margin: 31px 0 0 47px; border: 6px solid #468; padding: 4px; width: 700px; height: 240px; }
  #outer { margin: 19px 0 0 53px; border: 9px solid #846; padding: 3px; width: 780px; height: 360px; }
  #inner { margin: 13px 0 0 41px; border: 5px solid #684; padding: 2px; width: 700px; height: 240px; }
  .ProseMirror, .tiptap { outline: none; }
`;

function html(page: HtmlPage, css: boolean): string {
  const head = page.inner
    ? ''
    : `<h1>${escapeHtml(page.title)}</h1>\n<p id="plain">Plain page text for reading only.</p>\n`;
  const link = css && page.script ? `<link rel="stylesheet" href="/${page.script}.css">` : '';
  const script = page.script ? `<script type="module" src="/${page.script}.js"></script>` : '';
  return `<!doctype html>
<html lang="en" data-case="${page.id}"><head><meta charset="utf-8"><title>${escapeHtml(page.title)}</title>
<link rel="icon" href="data:,">${link}<style>${STYLE}</style></head>
<body>
${head}${page.body}
${script}
</body></html>
`;
}

/** The srcdoc frame's whole document (a contenteditable running contenteditable.js), as an attribute value. */
const SRCDOC = `<!doctype html><html lang="en" data-case="frame-srcdoc"><head><meta charset="utf-8"><style>${STYLE}</style></head><body>
<div id="editor" class="box" contenteditable="true">${INITIAL_HTML}</div>${POST}
<script type="module" src="/contenteditable.js"></script></body></html>`;

/**
 * A locked editor: it swallows beforeinput and paste without applying them and puts back any DOM change it
 * did not make (what CKEditor does to foreign DOM edits), so no strategy can change it.
 */
const REFUSING_SCRIPT = `
  const ed = document.getElementById('editor');
  const saved = ed.innerHTML;
  ed.addEventListener('beforeinput', (e) => e.preventDefault());
  ed.addEventListener('paste', (e) => e.preventDefault());
  new MutationObserver(() => { if (ed.innerHTML !== saved) ed.innerHTML = saved; }).observe(ed, { subtree: true, childList: true, characterData: true });
  window.__editorTest = { name: 'refusing', ready: true, text: () => ed.innerText.trim(), changes: 0 };
`;

/** Text drawn on a canvas, typing caught by an offscreen contenteditable frame, as Google Docs does. */
const CANVAS_SCRIPT = `
  const c = document.getElementById('canvas').getContext('2d');
  c.font = '16px sans-serif';
  c.fillText(${JSON.stringify(FIRST)}, 20, 40);
  c.fillText(${JSON.stringify(SECOND)}, 20, 70);
  const sink = document.createElement('iframe');
  sink.title = 'text event target';
  sink.style.cssText = 'position:absolute;left:-10000px;top:0;width:1px;height:1px;';
  sink.srcdoc = '<body contenteditable="true"></body>';
  document.body.append(sink);
  window.__editorTest = { name: 'canvas', ready: true, text: () => '', changes: 0 };
`;

const TEXTAREA = `<textarea id="field" rows="4">${escapeHtml(INITIAL_TEXT)}</textarea>\n${POST}`;

const PAGES: HtmlPage[] = [
  {
    file: 'lexical.html',
    id: 'lexical',
    title: 'Lexical',
    script: 'lexical',
    body: `${editorDiv(' contenteditable="true"')}\n${POST}`,
  },
  { file: 'draft.html', id: 'draft', title: 'Draft.js', script: 'draft', body: `${editorDiv()}\n${POST}` },
  {
    file: 'prosemirror.html',
    id: 'prosemirror',
    title: 'ProseMirror',
    script: 'prosemirror',
    body: `${editorDiv()}\n${POST}`,
  },
  { file: 'tiptap.html', id: 'tiptap', title: 'Tiptap', script: 'tiptap', body: `${editorDiv()}\n${POST}` },
  {
    file: 'quill.html',
    id: 'quill',
    title: 'Quill',
    script: 'quill',
    body: `<div style="width:660px"><div id="editor"></div></div>\n${POST}`,
  },
  { file: 'slate.html', id: 'slate', title: 'Slate', script: 'slate', body: `${editorDiv()}\n${POST}` },
  {
    file: 'ckeditor.html',
    id: 'ckeditor',
    title: 'CKEditor 5',
    script: 'ckeditor',
    body: `<div style="width:660px"><div id="editor"></div></div>\n${POST}`,
  },
  {
    file: 'tinymce.html',
    id: 'tinymce',
    title: 'TinyMCE',
    script: 'tinymce',
    body: `<div style="width:660px"><textarea id="editor">${escapeHtml(INITIAL_HTML)}</textarea></div>\n${POST}`,
  },
  {
    file: 'contenteditable.html',
    id: 'contenteditable',
    title: 'Contenteditable',
    script: 'contenteditable',
    body: `<div id="editor" class="box" contenteditable="true">${INITIAL_HTML}</div>\n${POST}`,
  },
  { file: 'textarea.html', id: 'textarea', title: 'Textarea', script: 'textarea', body: TEXTAREA },
  {
    file: 'input.html',
    id: 'input',
    title: 'Input',
    script: 'input',
    body: `<input id="field" type="text" value="${escapeHtml(SECOND)}">\n${POST}`,
  },
  {
    file: 'react-input.html',
    id: 'react-input',
    title: 'React input',
    script: 'react-input',
    body: `<div id="editor"></div>\n${POST}`,
  },
  {
    file: 'frame-textarea.html',
    id: 'frame-textarea',
    title: 'Textarea in a same-origin frame',
    body: '<iframe id="frame" title="Textarea frame" src="/frame/textarea-inner.html?case=frame-textarea"></iframe>',
  },
  {
    file: 'frame-srcdoc.html',
    id: 'frame-srcdoc',
    title: 'Contenteditable in a srcdoc frame',
    body: `<iframe id="frame" title="Srcdoc frame" srcdoc="${escapeHtml(SRCDOC)}"></iframe>`,
  },
  {
    file: 'frame-nested.html',
    id: 'frame-nested',
    title: 'Textarea in a frame in a frame',
    body: '<iframe id="outer" title="Outer frame" src="/frame/nested-middle.html"></iframe>',
  },
  {
    file: 'frame-cross-origin.html',
    id: 'frame-cross-origin',
    title: 'Textarea in a cross-origin frame',
    body: `<iframe id="frame" title="Cross-origin frame" src="${CROSS_ORIGIN_PLACEHOLDER}/frame/textarea-inner.html?case=frame-cross-origin"></iframe>`,
  },
  // Hostile pages (no editor package): one that takes no change at all, one that draws its text on a canvas.
  {
    file: 'refusing.html',
    id: 'refusing',
    title: 'An editor that refuses every change',
    body: `<div id="editor" class="box" contenteditable="true">${INITIAL_HTML}</div>\n${POST}\n<script>${REFUSING_SCRIPT}</script>`,
  },
  {
    file: 'canvas.html',
    id: 'canvas',
    title: 'A canvas-drawn editor',
    body: `<canvas id="canvas" width="900" height="500"></canvas>\n<script>${CANVAS_SCRIPT}</script>`,
  },
  {
    file: 'frame/textarea-inner.html',
    id: 'frame-textarea',
    title: 'Inner frame',
    script: 'textarea',
    inner: true,
    body: `<p>Inner frame</p>\n${TEXTAREA}`,
  },
  {
    file: 'frame/nested-middle.html',
    id: 'frame-nested',
    title: 'Middle frame',
    inner: true,
    body: '<p>Middle frame</p>\n<iframe id="inner" title="Inner frame" src="/frame/textarea-inner.html?case=frame-nested"></iframe>',
  },
];

function indexPage(): string {
  const links = PAGES.filter((p) => !p.inner)
    .map((p) => `<li><a href="/${p.file}">${escapeHtml(p.id)}</a> ${escapeHtml(p.title)}</li>`)
    .join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Editor test pages</title><link rel="icon" href="data:,"></head><body><h1>Editor test pages</h1><ul>${links}</ul></body></html>\n`;
}

export async function buildEditorPages(outDir: string): Promise<void> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: Object.entries(ENTRIES).map(([out, file]) => ({ in: join(PAGES_DIR, file), out })),
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    jsx: 'automatic',
    define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
    chunkNames: 'chunks/[name]-[hash]',
    assetNames: 'assets/[name]-[hash]',
    loader: { '.svg': 'file', '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.png': 'file', '.gif': 'file' },
    legalComments: 'none',
    logLevel: 'silent',
  });
  for (const page of PAGES) {
    const file = join(outDir, page.file);
    mkdirSync(dirname(file), { recursive: true });
    const css = page.script !== undefined && existsSync(join(outDir, `${page.script}.css`));
    writeFileSync(file, html(page, css));
  }
  writeFileSync(join(outDir, 'index.html'), indexPage());
}
