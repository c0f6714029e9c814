/**
 * A React 19 controlled `<input>`: `text()` returns React's committed state, not the DOM value, so a writer
 * that sets `.value` without an input event React sees is caught.
 */
import { useEffect, useLayoutEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { SECOND } from './content';
import { editorTest, mount } from './harness';

let committed = SECOND;
const test = editorTest(() => committed);

function ReactInputPage() {
  const [value, setValue] = useState(SECOND);
  useLayoutEffect(() => {
    committed = value;
  }, [value]);
  useEffect(() => test.ready(), []);
  return (
    <input
      id="field"
      type="text"
      aria-label="React input"
      value={value}
      onChange={(e) => {
        setValue(e.target.value);
        test.changed();
      }}
    />
  );
}

createRoot(mount()).render(<ReactInputPage />);
