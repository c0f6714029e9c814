/** Draft.js 0.11 (React 19 root): the latest EditorState is kept in a module variable for `text()`. */
import { useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { ContentState, Editor, EditorState } from 'draft-js';
import 'draft-js/dist/Draft.css';
import { INITIAL_TEXT } from './content';
import { editorTest, mount } from './harness';

let latest = EditorState.createWithContent(ContentState.createFromText(INITIAL_TEXT));
const test = editorTest(() => latest.getCurrentContent().getPlainText('\n'));

function DraftPage() {
  const [state, setState] = useState(latest);
  useEffect(() => test.ready(), []); // the editor's content node exists once React committed
  const onChange = (next: EditorState) => {
    const contentChanged = next.getCurrentContent() !== latest.getCurrentContent();
    latest = next;
    setState(next);
    if (contentChanged) test.changed();
  };
  return <Editor editorState={state} onChange={onChange} ariaLabel="Draft editor" />;
}

createRoot(mount()).render(<DraftPage />);
