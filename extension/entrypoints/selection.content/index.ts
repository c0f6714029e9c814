/**
 * The marketer's flow on any page: select text → a small toolbar → an action → the result streams into
 * a panel → Replace (verified, with the editor's own undo), Copy, Try again, Undo.
 *
 * Runs in every frame (iframes, and the about:blank / srcdoc frames editors such as TinyMCE create). Each
 * frame has an agent (content/agent.ts) that owns its selections and edits; the top frame alone shows the
 * UI (content/panel.ts) and reaches the agents of other frames through the background.
 */
import { defineContentScript } from 'wxt/utils/define-content-script';
import { startContent } from '../../content/main';

export default defineContentScript({
  matches: ['<all_urls>'],
  allFrames: true,
  matchAboutBlank: true,
  matchOriginAsFallback: true,
  runAt: 'document_idle',
  cssInjectionMode: 'manual',
  main: startContent,
});
