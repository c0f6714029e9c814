/**
 * TinyMCE 8 in its classic iframe mode, everything bundled: core, model, theme, icons and the skins as
 * JS resources (tinymce.Resource), so nothing is fetched at run time. TinyMCE itself lives on the TOP
 * window, so `__editorTest` is published there; the editable body is `body#tinymce` inside the iframe
 * `#editor_ifr` that TinyMCE creates (Chromium: `iframe.srcdoc = …`, an about:srcdoc document).
 */
import tinymce from 'tinymce';
import 'tinymce/models/dom';
import 'tinymce/themes/silver';
import 'tinymce/icons/default';
import 'tinymce/skins/ui/oxide/skin.js';
import 'tinymce/skins/ui/oxide/content.js';
import 'tinymce/skins/content/default/content.js';
import { editorTest } from './harness';

// getContent({format:'text'}) is the body's innerText: paragraphs come out separated by a blank line.
const test = editorTest(() => (tinymce.activeEditor?.getContent({ format: 'text' }) ?? '').replace(/\n\n/g, '\n'));

await tinymce.init({
  selector: '#editor',
  license_key: 'gpl',
  menubar: false,
  statusbar: false,
  promotion: false,
  branding: false,
  toolbar: 'undo redo | bold italic',
  height: 220,
  setup: (editor) => {
    editor.on('input change', () => test.changed());
    editor.on('init', () => test.ready());
  },
});
