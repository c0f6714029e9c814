/** Styles of the toolbar and result panel, injected into their shadow root only (never into the page). */
export const CSS = /* css */ `
.rd {
  position: fixed; z-index: 2147483647; box-sizing: border-box;
  font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #18181b; color-scheme: light; text-align: left; letter-spacing: normal;
  -webkit-font-smoothing: antialiased;
}
.rd *, .rd *::before, .rd *::after { box-sizing: border-box; }
.rd[hidden], .rd [hidden] { display: none !important; }
.card {
  background: #fff; border: 1px solid #e4e4e7; border-radius: 10px;
  box-shadow: 0 10px 30px rgba(24, 24, 27, .16), 0 2px 6px rgba(24, 24, 27, .08);
  padding: 8px;
}
.toolbar { max-width: 440px; }
.panel { width: 400px; max-width: calc(100vw - 16px); }
.row { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; }
.brand {
  display: inline-flex; align-items: center; justify-content: center; width: 22px; height: 22px;
  border-radius: 6px; background: #4f46e5; color: #fff; font-weight: 700; font-size: 12px; margin-right: 2px;
}
button, select {
  font: inherit; color: inherit; margin: 0; cursor: pointer;
  border: 1px solid transparent; border-radius: 6px; background: transparent; padding: 3px 8px; line-height: 1.3;
}
button:hover:not(:disabled), select:hover { background: #f4f4f5; }
button:focus-visible, select:focus-visible { outline: 2px solid #818cf8; outline-offset: 1px; }
button:disabled { opacity: .5; cursor: default; }
select { border-color: #e4e4e7; padding: 2px 4px; background: #fafafa; }
.combo { display: inline-flex; align-items: center; gap: 2px; }
.estimate { margin-top: 6px; padding: 0 4px; color: #52525b; font-size: 12px; }
.estimate b { color: #18181b; font-weight: 600; }
.head { display: flex; align-items: center; gap: 6px; margin-bottom: 6px; }
.title { font-weight: 600; }
.status { color: #71717a; font-size: 12px; flex: 1; }
.close { margin-left: auto; padding: 0 6px; font-size: 16px; line-height: 1; color: #71717a; }
.result {
  white-space: pre-wrap; word-wrap: break-word; overflow-y: auto; max-height: 240px; min-height: 44px;
  background: #fafafa; border: 1px solid #f0f0f2; border-radius: 8px; padding: 8px 10px; font-size: 13.5px;
}
.result.streaming::after { content: "▍"; color: #4f46e5; animation: rd-blink 1s steps(1) infinite; }
@keyframes rd-blink { 50% { opacity: 0; } }
.error { margin-top: 6px; padding: 8px 10px; border-radius: 8px; background: #fef2f2; color: #991b1b; border: 1px solid #fecaca; }
.buttons { margin-top: 8px; }
.buttons button { border-color: #e4e4e7; }
.buttons button.primary { background: #4f46e5; border-color: #4f46e5; color: #fff; }
.buttons button.primary:hover:not(:disabled) { background: #4338ca; }
.note { margin-top: 6px; color: #52525b; font-size: 12px; }
.hint { padding: 8px 10px; max-width: 340px; }
.pill {
  width: 28px; height: 28px; border-radius: 50%; border: 1px solid #c7d2fe; background: #4f46e5; color: #fff;
  font: 700 13px/1 system-ui, sans-serif; cursor: pointer; padding: 0;
  box-shadow: 0 4px 12px rgba(24, 24, 27, .22);
}
.pill:hover { background: #4338ca; }
.pill:focus-visible { outline: 2px solid #a5b4fc; outline-offset: 2px; }
button.quiet { background: transparent; border-color: transparent; color: #52525b; font-size: 12px; }
button.quiet:hover { background: #f4f4f5; }
`;
