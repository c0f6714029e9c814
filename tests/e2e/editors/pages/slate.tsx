/** Slate + slate-react (React 19 root) with history; text read from `editor.children`. */
import { useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { createEditor, Node, type BaseEditor, type Descendant } from 'slate';
import { Editable, Slate, withReact, type ReactEditor, type RenderElementProps } from 'slate-react';
import { withHistory, type HistoryEditor } from 'slate-history';
import { FIRST, SECOND } from './content';
import { editorTest, mount } from './harness';

type Paragraph = { type: 'paragraph'; children: { text: string }[] };
declare module 'slate' {
  interface CustomTypes {
    Editor: BaseEditor & ReactEditor & HistoryEditor;
    Element: Paragraph;
    Text: { text: string };
  }
}

const initialValue: Descendant[] = [FIRST, SECOND].map((text) => ({ type: 'paragraph', children: [{ text }] }));
const editor = withHistory(withReact(createEditor()));
const test = editorTest(() => editor.children.map((n) => Node.string(n)).join('\n'));

const renderElement = ({ attributes, children }: RenderElementProps) => <p {...attributes}>{children}</p>;

function SlatePage() {
  const [value] = useState(initialValue);
  useEffect(() => test.ready(), []);
  const onChange = () => {
    if (editor.operations.some((op) => op.type !== 'set_selection')) test.changed();
  };
  return (
    <Slate editor={editor} initialValue={value} onChange={onChange}>
      <Editable renderElement={renderElement} aria-label="Slate editor" />
    </Slate>
  );
}

createRoot(mount()).render(<SlatePage />);
