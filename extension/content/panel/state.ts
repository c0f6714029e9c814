/**
 * The panel's state machine: what the user sees of Redraft in a page, as data. `reduce(state, event)` is the
 * only way the state changes; `viewOf(state)` says what is shown (which card, which buttons, which words).
 * Pure: no DOM, no browser APIs, unit-tested on its own (state.test.ts). The controller (index.ts) feeds it
 * events from the page, the agent and the API stream, and runs the effects.
 *
 * Phases: idle → button (a passive selection in a field) → toolbar → streaming → done | error. After a
 * verified Replace or Insert below the panel collapses to a small "Replaced · Undo" chip that follows the
 * field's own undo.
 */
import { estimateTokens } from '../../lib/estimate';
import type { Explained } from '../../lib/errors';
import type { Box, SelectionReport } from '../../lib/frames';
import { ACTION_LABELS, PLATFORM_LABELS, TONE_LABELS } from '../../lib/labels';
import type { Block } from '../../lib/readiness';
import { postLength, type PostLength } from '../../lib/social';
import type { Action, Platform, RewriteDone, Tone } from '../../../shared/contract';
import { moveReport } from './position';

export type Phase = 'idle' | 'button' | 'toolbar' | 'streaming' | 'done' | 'error';

/** One take: every result is kept as a version (Try again, Refine add one; Continue grows one). */
export interface Version {
  text: string;
  action: Action;
  tone: Tone;
  platform: Platform;
  /** What it was made from: the selection, or (a refinement) a previous version. */
  source: string;
  instruction?: string;
  styleId?: string;
  /** The saved style's name, as the toolbar showed it (the panel's title names it). */
  styleName?: string;
  stopped: boolean;
  /** How the API said it finished (`length`: cut off by the output cap, it can be continued); null while streaming or unknown. */
  finish: RewriteDone['finishReason'] | null;
}

/** The field holds a version (read back by the agent). */
export interface Applied {
  how: 'replace' | 'insert';
  nativeUndo: boolean;
  /** `edited`: the user changed the field since (the panel's Undo would refuse; Ctrl+Z there still works). */
  edited: boolean;
}

export interface PanelState {
  phase: Phase;
  report: SelectionReport | null;
  action: Action;
  tone: Tone;
  platform: Platform;
  styleId: string | null;
  /** The action whose estimate the toolbar shows (hovered or focused). */
  estimating: Action;
  versions: Version[];
  shown: number;
  /** The stream grows the shown version (Continue) rather than a new one. */
  continuing: boolean;
  error: Explained | null;
  /** Seconds before Try again can succeed (rate limited). */
  waitLeft: number;
  block: Block | null;
  /** "Upgrade · $20/month for 500,000 tokens" when billing offers it. */
  upgradeOffer: string | null;
  applied: Applied | null;
  /** Undone in the field (Ctrl+Z there): Replace is offered again. */
  undoneInField: boolean;
  /** The small chip instead of the whole panel (after Replace / Insert below). */
  collapsed: boolean;
  /** Waiting for the agent (Replace, Insert, Undo). */
  busy: boolean;
  stopping: boolean;
  note: string;
  /** Said once to screen readers (the result when whole, not each chunk). */
  announce: string;
}

export const MAX_VERSIONS = 10;

export type PanelEvent =
  | { type: 'selected'; report: SelectionReport }
  /** The selection moved on screen (scroll, resize): its new box in its frame's viewport. */
  | { type: 'moved'; rect: Box }
  | { type: 'open-toolbar' }
  | { type: 'dismissed' }
  | { type: 'closed' }
  | { type: 'chose'; tone?: Tone; platform?: Platform; styleId?: string | null }
  | { type: 'estimating'; action: Action }
  | { type: 'blocked'; block: Block | null; upgradeOffer: string | null }
  /** A new take (its request is sent by the controller). */
  | { type: 'started'; take: Omit<Version, 'text' | 'stopped' | 'finish'> }
  /** More of the shown version (it was cut off by the length cap). */
  | { type: 'continued' }
  | { type: 'chunk'; text: string }
  | { type: 'finished'; stopped: boolean; finishReason?: RewriteDone['finishReason'] | undefined }
  | { type: 'failed'; error: Explained }
  | { type: 'stopping' }
  | { type: 'tick' }
  | { type: 'showed'; index: number }
  | { type: 'working'; note: string }
  | { type: 'applied'; how: 'replace' | 'insert'; nativeUndo: boolean }
  | { type: 'apply-failed'; message: string }
  | { type: 'undone'; how: 'native' | 'manual' | 'already' }
  | { type: 'undo-failed'; message: string }
  | { type: 'field-changed'; state: 'reverted' | 'edited' }
  | { type: 'expanded' }
  | { type: 'noted'; text: string };

export function initialState(defaults: { platform: Platform; tone: Tone; styleId: string | null }): PanelState {
  return {
    phase: 'idle',
    report: null,
    action: 'rewrite',
    tone: defaults.tone,
    platform: defaults.platform,
    styleId: defaults.styleId,
    estimating: 'rewrite',
    versions: [],
    shown: -1,
    continuing: false,
    error: null,
    waitLeft: 0,
    block: null,
    upgradeOffer: null,
    applied: null,
    undoneInField: false,
    collapsed: false,
    busy: false,
    stopping: false,
    note: '',
    announce: '',
  };
}

/** Back to nothing shown, keeping the user's choices (tone, platform, style) and what is known of their balance. */
const cleared = (s: PanelState): PanelState => ({
  ...initialState({ platform: s.platform, tone: s.tone, styleId: s.styleId }),
  block: s.block,
  upgradeOffer: s.upgradeOffer,
});

const shownVersion = (s: PanelState): Version | undefined => s.versions[s.shown];

const withShown = (s: PanelState, patch: Partial<Version>): Version[] =>
  s.versions.map((v, i) => (i === s.shown ? { ...v, ...patch } : v));

export function reduce(s: PanelState, e: PanelEvent): PanelState {
  switch (e.type) {
    case 'selected':
      // A rewrite in flight keeps its panel unless the user asked again from the keyboard or the menu.
      if (s.phase === 'streaming' && !e.report.fromCommand) return s;
      return {
        ...cleared(s),
        phase: e.report.mode === 'button' ? 'button' : 'toolbar',
        report: e.report,
        estimating: s.action,
      };
    case 'moved':
      return s.report ? { ...s, report: moveReport(s.report, e.rect) } : s;
    case 'open-toolbar':
      return s.phase === 'button' ? { ...s, phase: 'toolbar' } : s;
    case 'dismissed':
      return s.phase === 'button' || s.phase === 'toolbar' ? cleared(s) : s;
    case 'closed':
      return cleared(s);
    case 'chose':
      return {
        ...s,
        ...(e.tone ? { tone: e.tone, estimating: 'tone' as const } : {}),
        ...(e.platform ? { platform: e.platform, estimating: 'social_post' as const } : {}),
        ...(e.styleId !== undefined ? { styleId: e.styleId } : {}),
      };
    case 'estimating':
      return { ...s, estimating: e.action };
    case 'blocked':
      return { ...s, block: e.block, upgradeOffer: e.upgradeOffer };
    case 'started': {
      if (!s.report) return s;
      const versions = [...s.versions, { ...e.take, text: '', stopped: false, finish: null }].slice(-MAX_VERSIONS);
      return {
        ...s,
        phase: 'streaming',
        action: e.take.action,
        tone: e.take.tone,
        platform: e.take.platform,
        versions,
        shown: versions.length - 1,
        continuing: false,
        error: null,
        waitLeft: 0,
        stopping: false,
        note: '',
        announce: '',
        collapsed: false,
        undoneInField: false,
      };
    }
    case 'continued':
      if (!shownVersion(s) || s.phase !== 'done') return s;
      return {
        ...s,
        phase: 'streaming',
        continuing: true,
        versions: withShown(s, { finish: null, stopped: false }),
        error: null,
        note: '',
        announce: '',
        stopping: false,
      };
    case 'chunk': {
      const v = shownVersion(s);
      if (s.phase !== 'streaming' || !v) return s;
      return { ...s, versions: withShown(s, { text: v.text + e.text }) };
    }
    case 'finished': {
      const v = shownVersion(s);
      if (s.phase !== 'streaming' || !v) return s;
      const finish = e.stopped ? null : (e.finishReason ?? null);
      return {
        ...s,
        phase: 'done',
        continuing: false,
        stopping: false,
        versions: withShown(s, { stopped: e.stopped, finish }),
        announce: `${e.stopped ? 'Stopped' : finish === 'length' ? 'Cut off at the length limit' : 'Done'}: ${v.text}`,
      };
    }
    case 'failed': {
      if (s.phase !== 'streaming' && s.phase !== 'toolbar' && s.phase !== 'done') return s;
      // A failed new take leaves no empty version behind (the earlier ones stay to pick from); a failed
      // continuation keeps what it added (it was charged) and can be continued again.
      const v = shownVersion(s);
      let versions = s.versions;
      let shown = s.shown;
      if (v && s.phase === 'streaming' && s.continuing) versions = withShown(s, { finish: 'length' });
      else if (v && s.phase === 'streaming' && v.text === '') {
        versions = s.versions.filter((_, i) => i !== s.shown);
        shown = versions.length - 1;
      }
      return {
        ...s,
        phase: 'error',
        versions,
        shown,
        continuing: false,
        stopping: false,
        error: e.error,
        waitLeft: e.error.next === 'wait' ? (e.error.waitSeconds ?? 0) : 0,
        announce: e.error.sentence,
      };
    }
    case 'stopping':
      return s.phase === 'streaming' ? { ...s, stopping: true } : s;
    case 'tick':
      return s.waitLeft > 0 ? { ...s, waitLeft: s.waitLeft - 1 } : s;
    case 'showed':
      if (s.phase === 'streaming' || e.index < 0 || e.index >= s.versions.length || s.applied) return s;
      return { ...s, phase: 'done', shown: e.index, action: s.versions[e.index]!.action, error: null, note: '' };
    case 'working':
      return { ...s, busy: true, note: e.note };
    case 'applied':
      return {
        ...s,
        busy: false,
        applied: { how: e.how, nativeUndo: e.nativeUndo, edited: false },
        undoneInField: false,
        collapsed: true,
        note: e.how === 'insert' ? 'Inserted below the selection.' : 'Replaced.',
        announce: e.how === 'insert' ? 'Inserted below the selection.' : 'Replaced.',
      };
    case 'apply-failed':
      return { ...s, busy: false, note: e.message };
    case 'undone':
      return {
        ...s,
        busy: false,
        applied: null,
        collapsed: false,
        note: e.how === 'already' ? 'The original text was already back.' : 'Original restored.',
        announce: 'Original restored.',
      };
    case 'undo-failed':
      return { ...s, busy: false, note: e.message };
    case 'field-changed':
      if (!s.applied) return s;
      if (e.state === 'reverted')
        return {
          ...s,
          applied: null,
          undoneInField: true,
          note: 'Undone in the field: the original text is back.',
          announce: 'Undone in the field.',
        };
      return {
        ...s,
        applied: { ...s.applied, edited: true },
        note: 'The field was edited after the replacement; Ctrl+Z in the field still undoes it.',
      };
    case 'expanded':
      return { ...s, collapsed: false };
    case 'noted':
      return { ...s, note: e.text };
  }
}

/** What a take to start is made of: the shown version again (Try again), refined, or new from the toolbar. */
export function takeFor(
  s: PanelState,
  kind: 'new' | 'retry' | 'refine',
  o: { action?: Action; instruction?: string } = {},
): Omit<Version, 'text' | 'stopped' | 'finish'> | null {
  if (!s.report) return null;
  const v = shownVersion(s);
  const style = s.styleId ? { styleId: s.styleId } : {};
  if (kind === 'retry' && v) {
    const { text: _t, stopped: _s, finish: _f, ...take } = v;
    return take;
  }
  if (kind === 'refine') {
    if (!v || !o.instruction) return null;
    return {
      action: 'rewrite',
      tone: v.tone,
      platform: v.platform,
      source: v.text,
      instruction: o.instruction,
      ...style,
    };
  }
  const action = o.action ?? s.action;
  return {
    action,
    tone: s.tone,
    platform: s.platform,
    source: s.report.text,
    ...(o.instruction ? { instruction: o.instruction } : {}),
    ...style,
  };
}

// ---------------------------------------------------------------------------------------------------------
// state → view

export interface ToolbarView {
  blocked: { sentence: string; next: string | null } | null;
  estimate: { label: string; tokens: string; detail: string } | null;
  siteOff: boolean;
}

export interface PanelView {
  title: string;
  status: string;
  text: string;
  streaming: boolean;
  versions: { at: number; of: number; prev: boolean; next: boolean } | null;
  error: string | null;
  /** Shown buttons; `busy` disables Replace, Insert and Undo while the agent works. */
  buttons: {
    stop: boolean;
    replace: boolean;
    insert: boolean;
    copy: boolean;
    retry: string | null;
    retryDisabled: boolean;
    continue: boolean;
    undo: boolean;
    signin: boolean;
    upgrade: string | null;
    options: boolean;
  };
  busy: boolean;
  refine: boolean;
  note: string;
  /** A social post's length against its platform's limit (live while it streams). */
  counter: (PostLength & { label: string }) | null;
}

export interface ChipView {
  label: string;
  undo: boolean;
  replaceAgain: boolean;
}

export interface View {
  visible: boolean;
  dark: boolean;
  pill: boolean;
  toolbar: ToolbarView | null;
  panel: PanelView | null;
  chip: ChipView | null;
  announce: string;
}

const fmt = (n: number) => n.toLocaleString('en-US');

function titleOf(v: Version | undefined, s: PanelState): string {
  const action = v?.action ?? s.action;
  const detail =
    action === 'tone'
      ? ` · ${TONE_LABELS[v?.tone ?? s.tone]}`
      : action === 'social_post'
        ? ` · ${PLATFORM_LABELS[v?.platform ?? s.platform]}`
        : '';
  const wish = v?.instruction
    ? ` · “${v.instruction.length > 40 ? `${v.instruction.slice(0, 39)}…` : v.instruction}”`
    : '';
  const style = v?.styleName ? ` · ${v.styleName}` : '';
  return ACTION_LABELS[action] + detail + style + wish;
}

function toolbarView(s: PanelState, site: boolean): ToolbarView {
  const r = s.report!;
  const b = s.block;
  const blocked = b
    ? {
        sentence: b.sentence,
        next: b.next === 'sign_in' ? 'Sign in' : b.kind === 'no_tokens' ? (b.upgradeLabel ?? 'Open Redraft') : null,
      }
    : null;
  if (blocked) return { blocked, estimate: null, siteOff: site };
  const a = s.estimating;
  const e = estimateTokens({ text: r.text, action: a, tone: s.tone, platform: s.platform });
  const label =
    a === 'tone'
      ? `${ACTION_LABELS[a]} (${TONE_LABELS[s.tone].toLowerCase()})`
      : a === 'social_post'
        ? `${ACTION_LABELS[a]} (${PLATFORM_LABELS[s.platform]})`
        : ACTION_LABELS[a];
  return {
    blocked: null,
    // One plain figure; what is held while it runs is on hover.
    estimate: {
      label,
      tokens: `~${fmt(e.likelyTokens)} tokens`,
      detail: `About ${fmt(e.likelyTokens)} tokens (${fmt(e.inputTokens)} in, plus the answer). Up to ${fmt(e.maxTokens)} are held from your balance while it runs; only what is used is charged.`,
    },
    siteOff: site,
  };
}

function panelView(s: PanelState): PanelView {
  const v = shownVersion(s);
  const text = v?.text ?? '';
  const has = text.length > 0;
  const streaming = s.phase === 'streaming';
  const done = s.phase === 'done';
  const failed = s.phase === 'error' ? s.error : null;
  const editable = !!s.report?.editable;
  const applied = !!s.applied;
  const status = streaming
    ? s.stopping
      ? 'Stopping…'
      : s.continuing
        ? 'Continuing…'
        : 'Writing…'
    : failed
      ? ''
      : v?.stopped
        ? 'Stopped'
        : v?.finish === 'length'
          ? 'Cut off at the length limit'
          : applied
            ? s.applied!.how === 'insert'
              ? 'Inserted'
              : 'Replaced'
            : editable
              ? 'Done'
              : 'Done · this text is not editable, copy it';
  const counter = v && v.action === 'social_post' && has ? { ...postLength(text, v.platform), label: '' } : null;
  if (counter)
    counter.label = `${fmt(counter.count)} / ${fmt(counter.limit)}${counter.over ? ` · ${fmt(counter.count - counter.limit)} over ${PLATFORM_LABELS[v!.platform]}'s limit` : ''}`;
  const retryHidden = streaming || applied || failed?.next === 'sign_in' || failed?.next === 'upgrade';
  return {
    title: titleOf(v, s),
    status,
    text,
    streaming,
    versions:
      s.versions.length > 1
        ? {
            at: s.shown + 1,
            of: s.versions.length,
            prev: !streaming && !applied && s.shown > 0,
            next: !streaming && !applied && s.shown < s.versions.length - 1,
          }
        : null,
    error: failed?.sentence ?? null,
    buttons: {
      stop: streaming,
      replace: (done || failed !== null) && editable && has && !applied && !s.continuing,
      insert: (done || failed !== null) && editable && has && !applied && !s.report?.oneLine,
      copy: !streaming && has,
      retry: retryHidden ? null : s.waitLeft > 0 ? `Try again (${s.waitLeft})` : 'Try again',
      retryDisabled: s.waitLeft > 0,
      continue: (done || (failed !== null && v?.finish === 'length')) && has && !applied && v?.finish === 'length',
      undo: applied && !s.applied!.edited,
      signin: failed?.next === 'sign_in',
      upgrade: failed?.next === 'upgrade' ? (s.upgradeOffer ?? 'Open Redraft') : null,
      options: failed?.next === 'options',
    },
    busy: s.busy,
    refine: done && has && !applied,
    note: s.note,
    counter,
  };
}

export function viewOf(s: PanelState, o: { siteOff: boolean } = { siteOff: false }): View {
  const visible = s.phase !== 'idle' && s.report !== null;
  const base = {
    visible,
    dark: !!s.report?.dark,
    pill: false,
    toolbar: null,
    panel: null,
    chip: null,
    announce: s.announce,
  };
  if (!visible) return base;
  if (s.phase === 'button') return { ...base, pill: true };
  if (s.phase === 'toolbar') return { ...base, toolbar: toolbarView(s, o.siteOff) };
  if (s.collapsed && (s.applied || s.undoneInField)) {
    const how = s.applied?.how ?? 'replace';
    const label = s.undoneInField
      ? 'Undone in the field'
      : s.applied!.edited
        ? `${how === 'insert' ? 'Inserted' : 'Replaced'} · edited since`
        : how === 'insert'
          ? 'Inserted below'
          : 'Replaced';
    return { ...base, chip: { label, undo: !!s.applied && !s.applied.edited, replaceAgain: s.undoneInField } };
  }
  return { ...base, panel: panelView(s) };
}
