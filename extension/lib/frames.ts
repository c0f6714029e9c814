/**
 * One UI per tab: the content script runs in every frame, but only the top frame shows the toolbar and
 * the panel. A frame's agent reports its selection to the top frame, and the top frame asks the agent
 * that owns the selection to replace or undo it.
 *
 * Everything that can change a page goes through the extension's own messaging (content script →
 * background → `tabs.sendMessage` to one frame of the same tab), which pages cannot forge. Only the
 * frame's position travels by `postMessage` up the frame tree (a page can read or fake a position, which
 * at worst misplaces the toolbar; it never carries text or commands).
 *
 * Pure: message shapes and their validation, unit-tested.
 */
export interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export interface SelectionReport {
  /** The target's id in its frame (a replace names it; a frame that navigated no longer knows it). */
  id: string;
  text: string;
  editable: boolean;
  kind: 'field' | 'editable' | 'page';
  /** The selection's box in the frame's viewport. */
  rect: Box;
  /** Where the pointer was released, in the frame's viewport (null from the keyboard). */
  point: { x: number; y: number } | null;
  /** Opened by the shortcut or the context menu (focus goes to the toolbar). */
  fromCommand: boolean;
  /** `button`: a passive selection shows the small Redraft button; `toolbar`: the toolbar at once (shortcut, menu). */
  mode: 'button' | 'toolbar';
  /** Pairs the report with the frame's position, relayed by postMessage. */
  nonce: string;
  /** Text direction of the selected text's block. */
  dir: 'ltr' | 'rtl';
  /** The background behind the selection is dark (the UI goes dark there too). */
  dark: boolean;
  /** A one-line input: nothing can go on a line below it (no Insert below). */
  oneLine: boolean;
}

/** What a frame's agent tells the UI. */
export type AgentEvent =
  | { type: 'selection'; report: SelectionReport }
  /** Nothing selected any more (a click elsewhere in the frame, Esc). */
  | { type: 'dismiss'; reason: 'cleared' | 'escape' }
  /** The frame scrolled or resized: the selection moved on screen (the UI asks where it is now). */
  | { type: 'moved' }
  /** Opened from the keyboard with nothing selected in the focused frame (`canvas`: the frame draws its text on a canvas). */
  | { type: 'no-selection'; canvas: boolean }
  /** The field no longer holds the replacement: the user undid it (Ctrl+Z) or edited it. */
  | { type: 'replacement-changed'; id: string; state: 'reverted' | 'edited' };

export type ReplaceResult = { ok: true; nativeUndo: boolean; how: string } | { ok: false; message: string };
export type UndoResult = { ok: true; how: 'native' | 'manual' | 'already' } | { ok: false; message: string };
/** Where a kept selection is now, in its frame's viewport; `nonce` relays the frame's offset again (it may have moved too). */
export type LocateResult = { ok: true; rect: Box; nonce: string } | { ok: false; message: string };

/** What the UI asks of a frame's agent. */
/** `restore`: focus the field again and select the text (after Esc). `insert`: the text as a new line below the selection. */
export type AgentCall =
  | { op: 'replace'; id: string; text: string }
  | { op: 'insert'; id: string; text: string }
  | { op: 'undo'; id: string }
  | { op: 'forget'; id: string }
  | { op: 'restore'; id: string }
  | { op: 'locate'; id: string };
export type AgentCallResult<C extends AgentCall> = C extends { op: 'replace' | 'insert' }
  ? ReplaceResult
  : C extends { op: 'undo' }
    ? UndoResult
    : C extends { op: 'locate' }
      ? LocateResult
      : { ok: true };

// Runtime messages (content ⇄ background ⇄ content).
/** content (a frame) → background: deliver an event to the top frame's UI. */
export interface ToHostMessage {
  type: 'frame/to-host';
  event: AgentEvent;
}
/** content (top frame) → background: call the agent of one frame of this tab. */
export interface CallFrameMessage {
  type: 'frame/call';
  frameId: number;
  call: AgentCall;
}
/** background → top frame. */
export interface FromFrameMessage {
  type: 'redraft/from-frame';
  frameId: number;
  event: AgentEvent;
}
/** background → one frame. */
export interface AgentCallMessage {
  type: 'redraft/agent-call';
  call: AgentCall;
}

/** postMessage up the frame tree: the offset of the reporting frame's viewport, accumulated per level. */
export interface GeometryMessage {
  redraftGeometry: 1;
  nonce: string;
  x: number;
  y: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Matches the API's own limit on what a start message may carry. */
const MAX_TEXT = 200_000;
const MAX_REPLACEMENT = 200_000;

function parseBox(v: unknown): Box | null {
  if (!isObject(v) || ![v.left, v.top, v.right, v.bottom].every(finite)) return null;
  return { left: v.left as number, top: v.top as number, right: v.right as number, bottom: v.bottom as number };
}

export function parseReport(v: unknown): SelectionReport | null {
  if (!isObject(v)) return null;
  const { id, text, editable, kind, rect, point, fromCommand, nonce, dir, mode, dark, oneLine } = v;
  if (typeof id !== 'string' || !ID.test(id) || typeof nonce !== 'string' || !ID.test(nonce)) return null;
  if (typeof text !== 'string' || !text.trim() || text.length > MAX_TEXT) return null;
  if (typeof editable !== 'boolean' || typeof fromCommand !== 'boolean') return null;
  if (kind !== 'field' && kind !== 'editable' && kind !== 'page') return null;
  const box = parseBox(rect);
  if (!box) return null;
  let p: SelectionReport['point'] = null;
  if (point !== null) {
    if (!isObject(point) || !finite(point.x) || !finite(point.y)) return null;
    p = { x: point.x, y: point.y };
  }
  return {
    id,
    text,
    editable,
    kind,
    rect: box,
    point: p,
    fromCommand,
    nonce,
    dir: dir === 'rtl' ? 'rtl' : 'ltr',
    mode: mode === 'button' ? 'button' : 'toolbar',
    dark: dark === true,
    oneLine: oneLine === true,
  };
}

export function parseAgentEvent(v: unknown): AgentEvent | null {
  if (!isObject(v)) return null;
  switch (v.type) {
    case 'selection': {
      const report = parseReport(v.report);
      return report ? { type: 'selection', report } : null;
    }
    case 'dismiss':
      return v.reason === 'cleared' || v.reason === 'escape' ? { type: 'dismiss', reason: v.reason } : null;
    case 'moved':
      return { type: 'moved' };
    case 'no-selection':
      return { type: 'no-selection', canvas: v.canvas === true };
    case 'replacement-changed':
      return typeof v.id === 'string' && ID.test(v.id) && (v.state === 'reverted' || v.state === 'edited')
        ? { type: 'replacement-changed', id: v.id, state: v.state }
        : null;
  }
  return null;
}

export function parseAgentCall(v: unknown): AgentCall | null {
  if (!isObject(v) || typeof v.id !== 'string' || !ID.test(v.id)) return null;
  if (v.op === 'replace' || v.op === 'insert')
    return typeof v.text === 'string' && v.text.trim().length > 0 && v.text.length <= MAX_REPLACEMENT
      ? { op: v.op, id: v.id, text: v.text }
      : null;
  if (v.op === 'undo' || v.op === 'forget' || v.op === 'restore' || v.op === 'locate') return { op: v.op, id: v.id };
  return null;
}

export function parseGeometry(v: unknown): GeometryMessage | null {
  if (
    !isObject(v) ||
    v.redraftGeometry !== 1 ||
    typeof v.nonce !== 'string' ||
    !ID.test(v.nonce) ||
    !finite(v.x) ||
    !finite(v.y)
  )
    return null;
  return { redraftGeometry: 1, nonce: v.nonce, x: v.x, y: v.y };
}

export const isToHost = (m: unknown): m is ToHostMessage => isObject(m) && m.type === 'frame/to-host';
export const isCallFrame = (m: unknown): m is CallFrameMessage =>
  isObject(m) && m.type === 'frame/call' && Number.isInteger(m.frameId) && (m.frameId as number) >= 0;
export const isFromFrame = (m: unknown): m is FromFrameMessage =>
  isObject(m) && m.type === 'redraft/from-frame' && Number.isInteger(m.frameId);
export const isAgentCall = (m: unknown): m is AgentCallMessage => isObject(m) && m.type === 'redraft/agent-call';

/** Moves a box by a frame's offset (into the top frame's viewport). */
export const offsetBox = (b: Box, x: number, y: number): Box => ({
  left: b.left + x,
  top: b.top + y,
  right: b.right + x,
  bottom: b.bottom + y,
});
