/** A `<textarea id="field">` (also the frame cases' inner page): `text()` is its value. */
import { editorTest, mount } from './harness';

const field = mount('field') as HTMLTextAreaElement | HTMLInputElement;
const test = editorTest(() => field.value);
field.addEventListener('input', () => test.changed());
test.ready();
