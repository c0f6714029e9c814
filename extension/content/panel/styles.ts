/**
 * Styles of the toolbar and result panel, injected into their shadow root only (never into the page).
 * Colours are variables: light by default, dark under `prefers-color-scheme: dark` or on a dark page
 * (`.rd.dark`, set from the background behind the selection).
 * Contrast is WCAG AA in both.
 */
const LIGHT = `
  --bg: #fff; --fg: #18181b; --muted: #52525b; --faint: #71717a; --line: #e4e4e7; --soft: #fafafa; --soft-line: #f0f0f2;
  --hover: #f4f4f5; --accent: #4f46e5; --accent-hover: #4338ca; --accent-fg: #fff; --focus: #818cf8;
  --err-bg: #fef2f2; --err-fg: #991b1b; --err-line: #fecaca; --shadow: rgba(24, 24, 27, .16);
  color-scheme: light;`;
const DARK = `
  --bg: #1f1f23; --fg: #f4f4f5; --muted: #c4c4cc; --faint: #a1a1aa; --line: #3f3f46; --soft: #27272a; --soft-line: #33333a;
  --hover: #2e2e33; --accent: #6366f1; --accent-hover: #818cf8; --accent-fg: #fff; --focus: #a5b4fc;
  --err-bg: #3b1212; --err-fg: #fecaca; --err-line: #7f1d1d; --shadow: rgba(0, 0, 0, .5);
  color-scheme: dark;`;

export const CSS = /* css */ `
.rd {
  ${LIGHT}
  position: fixed; z-index: 2147483647; box-sizing: border-box;
  font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); text-align: start; letter-spacing: normal;
  -webkit-font-smoothing: antialiased;
}
@media (prefers-color-scheme: dark) { .rd { ${DARK} } }
.rd.dark { ${DARK} }
.rd *, .rd *::before, .rd *::after { box-sizing: border-box; }
.rd[hidden], .rd [hidden] { display: none !important; }
.card {
  background: var(--bg); border: 1px solid var(--line); border-radius: 10px;
  box-shadow: 0 10px 30px var(--shadow), 0 2px 6px var(--shadow);
  padding: 8px;
}
.toolbar { max-width: 440px; }
.panel { width: 400px; max-width: calc(100vw - 16px); }
.panel:focus { outline: none; }
.row { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; }
.brand {
  display: inline-flex; align-items: center; justify-content: center; width: 22px; height: 22px;
  border-radius: 6px; background: var(--accent); color: var(--accent-fg); font-weight: 700; font-size: 12px; margin-inline-end: 2px;
}
button, select {
  font: inherit; color: inherit; margin: 0; cursor: pointer;
  border: 1px solid transparent; border-radius: 6px; background: transparent; padding: 3px 8px; line-height: 1.3;
}
button:hover:not(:disabled), select:hover { background: var(--hover); }
button:focus-visible, select:focus-visible { outline: 2px solid var(--focus); outline-offset: 1px; }
button:disabled { opacity: .5; cursor: default; }
select { border-color: var(--line); padding: 2px 4px; background: var(--soft); }
.combo { display: inline-flex; align-items: center; gap: 2px; }
.estimate { margin-top: 6px; padding: 0 4px; color: var(--muted); font-size: 12px; }
.estimate b { color: var(--fg); font-weight: 600; }
.head { display: flex; align-items: center; gap: 6px; margin-bottom: 6px; }
.title { font-weight: 600; }
.status { color: var(--faint); font-size: 12px; flex: 1; }
.close { margin-inline-start: auto; padding: 0 6px; font-size: 16px; line-height: 1; color: var(--faint); }
.result {
  white-space: pre-wrap; word-wrap: break-word; overflow-y: auto; max-height: 240px; min-height: 44px;
  background: var(--soft); border: 1px solid var(--soft-line); border-radius: 8px; padding: 8px 10px; font-size: 13.5px;
  unicode-bidi: plaintext; text-align: start;
}
.result.streaming::after { content: "▍"; color: var(--accent); animation: rd-blink 1s steps(1) infinite; }
@keyframes rd-blink { 50% { opacity: 0; } }
.error { margin-top: 6px; padding: 8px 10px; border-radius: 8px; background: var(--err-bg); color: var(--err-fg); border: 1px solid var(--err-line); }
.buttons { margin-top: 8px; }
.buttons button { border-color: var(--line); }
.buttons button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-fg); }
.buttons button.primary:hover:not(:disabled) { background: var(--accent-hover); }
.note { margin-top: 6px; color: var(--muted); font-size: 12px; }
.hint { padding: 8px 10px; max-width: 340px; }
.pill {
  width: 28px; height: 28px; border-radius: 50%; border: 1px solid var(--accent-hover); background: var(--accent); color: var(--accent-fg);
  font: 700 13px/1 system-ui, sans-serif; cursor: pointer; padding: 0;
  box-shadow: 0 4px 12px var(--shadow);
}
.pill:hover { background: var(--accent-hover); }
.pill:focus-visible { outline: 2px solid var(--focus); outline-offset: 2px; }
button.quiet { background: transparent; border-color: transparent; color: var(--muted); font-size: 12px; }
button.quiet:hover { background: var(--hover); }
input.ask {
  display: block; width: 100%; margin-top: 6px; font: inherit; color: var(--fg); background: var(--soft);
  border: 1px solid var(--line); border-radius: 6px; padding: 4px 8px;
}
input.ask::placeholder { color: var(--faint); }
input.ask:focus-visible { outline: 2px solid var(--focus); outline-offset: 1px; }
.versions { display: inline-flex; align-items: center; gap: 2px; color: var(--muted); font-size: 12px; }
.versions .nav { padding: 0 6px; font-size: 15px; line-height: 1.2; }
.blocked { margin-top: 6px; padding: 6px 8px; border-radius: 8px; background: var(--soft); border: 1px solid var(--line); color: var(--fg); font-size: 12.5px; }
.blocked button.primary { margin-top: 4px; background: var(--accent); border-color: var(--accent); color: var(--accent-fg); }
.counter { margin-top: 4px; font-size: 12px; color: var(--muted); text-align: end; }
.counter.over { color: var(--err-fg); font-weight: 600; }
.chip { display: inline-flex; align-items: center; gap: 4px; padding: 4px 4px 4px 6px; }
.chip .label { font-weight: 600; padding-inline-end: 4px; }
.chip button { border-color: var(--line); padding: 2px 8px; }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
`;
