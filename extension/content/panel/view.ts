/**
 * The panel's DOM: builds the pill, the toolbar, the result panel, the "Replaced · Undo" chip and the hint
 * once, applies a View (state.ts) to them, and turns what the user does into intents for the controller.
 * Framework-free (this runs in every page); lives in the shadow root the controller mounts.
 *
 * Actions that spend the user's tokens or change the page are only taken from real user input
 * (`isTrusted`), never from a script on the page dispatching synthetic clicks.
 *
 * Depends on: the DOM (its container), state.ts's View.
 */
import { ACTIONS, ACTION_LABELS, PLATFORM_LABELS, PLATFORMS, TONE_LABELS, TONES } from '../../lib/labels';
import { INSTRUCTION_MAX_CHARS, type Action, type Platform, type Style, type Tone } from '../../../shared/contract';
import { h } from './dom';
import type { View } from './state';

export type Intent =
  | { type: 'action'; action: Action }
  | { type: 'estimate'; action: Action }
  | { type: 'tone'; tone: Tone }
  | { type: 'platform'; platform: Platform }
  | { type: 'style'; styleId: string | null }
  | { type: 'ask'; instruction: string }
  | { type: 'refine'; instruction: string }
  | { type: 'open' }
  | { type: 'site-off' }
  | { type: 'blocked-next' }
  | { type: 'close' }
  | { type: 'stop' }
  | { type: 'replace' }
  | { type: 'insert' }
  | { type: 'copy' }
  | { type: 'retry' }
  | { type: 'continue' }
  | { type: 'undo' }
  | { type: 'signin' }
  | { type: 'upgrade' }
  | { type: 'options' }
  | { type: 'version'; delta: -1 | 1 }
  | { type: 'expand' };

/** Intents that spend tokens or change the page: real user input only. */
const TRUSTED_ONLY = new Set<Intent['type']>([
  'action',
  'ask',
  'refine',
  'site-off',
  'replace',
  'insert',
  'retry',
  'continue',
  'undo',
  'upgrade',
  'blocked-next',
]);

export type PanelDom = ReturnType<typeof buildDom>;

function buildDom(site: boolean) {
  const root = h('div', { class: 'rd', hidden: '', 'data-redraft': 'root' });
  // Toolbar
  const toneSelect = h(
    'select',
    { 'aria-label': 'Tone', 'data-option': 'tone' },
    ...TONES.map((t) => h('option', { value: t, text: TONE_LABELS[t] })),
  );
  const platformSelect = h(
    'select',
    { 'aria-label': 'Platform', 'data-option': 'platform' },
    ...PLATFORMS.map((p) => h('option', { value: p, text: PLATFORM_LABELS[p] })),
  );
  const actionButtons = ACTIONS.map((a) => h('button', { type: 'button', 'data-action': a, text: ACTION_LABELS[a] }));
  const actionRow = h(
    'div',
    { class: 'row', role: 'toolbar', 'aria-label': 'Redraft actions' },
    h('span', { class: 'brand', title: 'Redraft', text: 'R' }),
  );
  for (const b of actionButtons) {
    const a = b.dataset.action as Action;
    actionRow.append(
      a === 'tone'
        ? h('span', { class: 'combo' }, b, toneSelect)
        : a === 'social_post'
          ? h('span', { class: 'combo' }, b, platformSelect)
          : b,
    );
  }
  const siteOff = h('button', {
    type: 'button',
    class: 'quiet',
    'data-cmd': 'site-off',
    title: 'Show nothing when I select text on this site (the shortcut still works)',
    text: 'Off on this site',
  });
  if (site) actionRow.append(siteOff);
  const styleSelect = h('select', { 'aria-label': 'Style', 'data-option': 'style', hidden: '' });
  actionRow.append(styleSelect);
  const instruction = h('input', {
    type: 'text',
    class: 'ask',
    'data-redraft': 'instruction',
    maxlength: String(INSTRUCTION_MAX_CHARS),
    placeholder: 'Or say what you want: “punchier, for a CFO”…',
    'aria-label': 'Say what you want (Enter rewrites)',
  });
  const estimate = h('div', { class: 'estimate', 'data-redraft': 'estimate' });
  const blockedText = h('span');
  const blockedNext = h('button', { type: 'button', class: 'primary', 'data-cmd': 'blocked-next' });
  const blocked = h(
    'div',
    { class: 'blocked', role: 'status', 'data-redraft': 'blocked', hidden: '' },
    blockedText,
    blockedNext,
  );
  const pill = h('button', {
    type: 'button',
    class: 'pill',
    'data-redraft': 'button',
    'aria-label': 'Rewrite with Redraft',
    title: 'Rewrite with Redraft (Alt+Shift+R)',
    text: 'R',
  });
  const toolbar = h(
    'div',
    { class: 'card toolbar', 'data-redraft': 'toolbar' },
    actionRow,
    blocked,
    instruction,
    estimate,
  );
  // Panel
  const title = h('span', { class: 'title' });
  const status = h('span', { class: 'status', 'data-redraft': 'status' });
  const closeBtn = h('button', {
    type: 'button',
    class: 'close',
    'aria-label': 'Close',
    title: 'Close (Esc)',
    'data-cmd': 'close',
    text: '×',
  });
  // Not a live region: chunks are not read out one by one; `live` announces the result once, when done.
  const result = h('div', { class: 'result', 'data-redraft': 'result', dir: 'auto' });
  const counter = h('div', { class: 'counter', 'data-redraft': 'counter', hidden: '' });
  const live = h('div', { class: 'sr-only', role: 'status', 'data-redraft': 'live' });
  const prev = h('button', {
    type: 'button',
    class: 'nav',
    'data-cmd': 'prev',
    'aria-label': 'Previous version',
    text: '‹',
  });
  const next = h('button', {
    type: 'button',
    class: 'nav',
    'data-cmd': 'next',
    'aria-label': 'Next version',
    text: '›',
  });
  const position = h('span', { class: 'pos', 'data-redraft': 'version' });
  const versionsNav = h('span', { class: 'versions', 'data-redraft': 'versions' }, prev, position, next);
  const refine = h('input', {
    type: 'text',
    class: 'ask',
    'data-redraft': 'refine',
    maxlength: String(INSTRUCTION_MAX_CHARS),
    placeholder: 'Refine: shorter, more formal, add a call to action…',
    'aria-label': 'Refine this version (Enter makes a new one)',
  });
  const error = h('div', { class: 'error', role: 'alert', 'data-redraft': 'error', hidden: '' });
  const note = h('div', { class: 'note', 'data-redraft': 'note', hidden: '' });
  const cmd = (name: string, label: string, cls = '', extra: Record<string, string> = {}) =>
    h('button', { type: 'button', 'data-cmd': name, text: label, ...(cls ? { class: cls } : {}), ...extra });
  const buttons = {
    stop: cmd('stop', 'Stop'),
    replace: cmd('replace', 'Replace', 'primary'),
    insert: cmd('insert', 'Insert below', '', { title: 'Keep the selection and add this as a new line below it' }),
    copy: cmd('copy', 'Copy'),
    continue: cmd('continue', 'Continue', '', {
      title: 'The answer was cut off at the length limit: write the rest (a new metered request)',
    }),
    retry: cmd('retry', 'Try again'),
    undo: cmd('undo', 'Undo'),
    signin: cmd('signin', 'Sign in', 'primary'),
    upgrade: cmd('upgrade', 'Open Redraft', 'primary'),
    options: cmd('options', 'Open options'),
  };
  const panel = h(
    'div',
    { class: 'card panel', role: 'dialog', 'aria-label': 'Redraft result', 'data-redraft': 'panel', tabindex: '-1' },
    h('div', { class: 'head' }, h('span', { class: 'brand', text: 'R' }), title, status, versionsNav, closeBtn),
    result,
    counter,
    error,
    h('div', { class: 'row buttons' }, ...Object.values(buttons)),
    refine,
    note,
  );
  // After Replace / Insert below: a small chip by the text, following the field's own undo.
  const chipLabel = h('span', { class: 'label', 'data-redraft': 'chip-label' });
  const chipButtons = {
    undo: cmd('undo', 'Undo'),
    replaceAgain: cmd('replace', 'Replace again'),
    expand: cmd('expand', 'Show', '', { 'aria-label': 'Show the result again' }),
    close: cmd('close', '×', 'close', { 'aria-label': 'Close', title: 'Close (Esc)' }),
  };
  const chip = h(
    'div',
    { class: 'card chip', role: 'status', 'data-redraft': 'chip', hidden: '' },
    h('span', { class: 'brand', text: 'R' }),
    chipLabel,
    ...Object.values(chipButtons),
  );
  const hint = h('div', { class: 'card hint', role: 'status', 'data-redraft': 'hint', hidden: '' });
  root.append(pill, toolbar, panel, chip, hint, live);
  return {
    root,
    pill,
    toolbar,
    actionRow,
    actionButtons,
    toneSelect,
    platformSelect,
    styleSelect,
    siteOff,
    instruction,
    estimate,
    blocked,
    blockedText,
    blockedNext,
    panel,
    title,
    status,
    closeBtn,
    result,
    counter,
    live,
    prev,
    next,
    position,
    versionsNav,
    refine,
    error,
    note,
    buttons,
    chip,
    chipLabel,
    chipButtons,
    hint,
  };
}

export class PanelView {
  readonly dom: PanelDom;
  private lastText = '';
  private lastAnnounce = '';

  constructor(container: HTMLElement, o: { site: boolean; onIntent: (i: Intent) => void }) {
    this.dom = buildDom(o.site);
    container.append(this.dom.root);
    this.wire(o.onIntent);
  }

  apply(v: View): void {
    const d = this.dom;
    d.hint.hidden = true;
    d.root.hidden = !v.visible;
    d.root.classList.toggle('dark', v.dark);
    d.pill.hidden = !v.pill;
    d.toolbar.hidden = !v.toolbar;
    d.panel.hidden = !v.panel;
    d.chip.hidden = !v.chip;
    if (v.announce !== this.lastAnnounce) {
      this.lastAnnounce = v.announce;
      d.live.textContent = v.announce;
    }
    if (v.toolbar) {
      const t = v.toolbar;
      d.blocked.hidden = !t.blocked;
      d.blockedText.textContent = t.blocked ? `${t.blocked.sentence} ` : '';
      d.blockedNext.hidden = !t.blocked?.next;
      d.blockedNext.textContent = t.blocked?.next ?? '';
      for (const a of d.actionButtons) a.disabled = !!t.blocked;
      d.instruction.disabled = !!t.blocked;
      d.estimate.hidden = !t.estimate;
      if (t.estimate) {
        d.estimate.replaceChildren(`${t.estimate.label}: `, h('b', { text: t.estimate.tokens }));
        d.estimate.title = t.estimate.detail;
      }
    }
    if (v.panel) {
      const p = v.panel;
      d.title.textContent = p.title;
      d.status.textContent = p.status;
      if (p.text !== this.lastText) {
        d.result.textContent = p.text;
        this.lastText = p.text;
        if (p.streaming) d.result.scrollTop = d.result.scrollHeight;
      }
      d.result.classList.toggle('streaming', p.streaming);
      d.result.hidden = p.error !== null && !p.text;
      d.counter.hidden = !p.counter;
      d.counter.textContent = p.counter?.label ?? '';
      d.counter.classList.toggle('over', !!p.counter?.over);
      d.versionsNav.hidden = !p.versions;
      if (p.versions) {
        d.position.textContent = `${p.versions.at}/${p.versions.of}`;
        d.position.setAttribute('aria-label', `Version ${p.versions.at} of ${p.versions.of}`);
        d.prev.disabled = !p.versions.prev;
        d.next.disabled = !p.versions.next;
      }
      d.error.hidden = !p.error;
      d.error.textContent = p.error ?? '';
      const b = d.buttons;
      const s = p.buttons;
      b.stop.hidden = !s.stop;
      b.replace.hidden = !s.replace;
      b.insert.hidden = !s.insert;
      b.copy.hidden = !s.copy;
      b.continue.hidden = !s.continue;
      b.retry.hidden = s.retry === null;
      b.retry.textContent = s.retry ?? 'Try again';
      b.retry.disabled = s.retryDisabled;
      b.undo.hidden = !s.undo;
      b.signin.hidden = !s.signin;
      b.upgrade.hidden = s.upgrade === null;
      b.upgrade.textContent = s.upgrade ?? '';
      b.options.hidden = !s.options;
      for (const x of [b.replace, b.insert, b.undo, b.continue]) x.disabled = p.busy;
      d.refine.hidden = !p.refine;
      d.note.hidden = !p.note;
      d.note.textContent = p.note;
    } else this.lastText = '\u0000';
    // A hidden chip says nothing (nothing reads a stale "Replaced").
    d.chipLabel.textContent = v.chip?.label ?? '';
    if (v.chip) {
      d.chipButtons.undo.hidden = !v.chip.undo;
      d.chipButtons.replaceAgain.hidden = !v.chip.replaceAgain;
    }
  }

  /** The saved styles for the toolbar's chooser (hidden when there are none). */
  setStyles(list: Style[], selected: string | null): void {
    const select = this.dom.styleSelect;
    select.hidden = list.length === 0;
    select.replaceChildren(
      h('option', { value: '', text: 'No style' }),
      ...list.map((s) => h('option', { value: s.id, text: s.name })),
    );
    select.value = selected && list.some((s) => s.id === selected) ? selected : '';
  }

  setChoices(tone: Tone, platform: Platform): void {
    this.dom.toneSelect.value = tone;
    this.dom.platformSelect.value = platform;
  }

  /** A short message alone (no selection to anchor to). */
  hint(text: string): void {
    const d = this.dom;
    d.hint.textContent = text;
    d.hint.hidden = false;
    d.root.hidden = false;
    d.toolbar.hidden = d.panel.hidden = d.chip.hidden = d.pill.hidden = true;
  }

  /** One tab stop for the toolbar's controls: the first action (arrow keys move on). */
  initRoving(): void {
    const items = [...this.dom.actionRow.querySelectorAll<HTMLElement>('button, select')];
    for (const [i, el] of items.entries()) el.tabIndex = i === 0 ? 0 : -1;
  }

  /** The card on screen now (what the controller positions). */
  visibleCard(): HTMLElement | null {
    const d = this.dom;
    return [d.pill, d.toolbar, d.panel, d.chip].find((el) => !el.hidden) ?? null;
  }

  private wire(emit: (i: Intent) => void) {
    const d = this.dom;
    const on = (el: HTMLElement, intent: Intent | (() => Intent | null), keepSelection = false) => {
      if (keepSelection) el.addEventListener('mousedown', (e) => e.preventDefault()); // the page's selection stays visible
      el.addEventListener('click', (e) => {
        const i = typeof intent === 'function' ? intent() : intent;
        if (!i || (TRUSTED_ONLY.has(i.type) && !e.isTrusted)) return;
        emit(i);
      });
    };
    for (const b of d.actionButtons) {
      const action = b.dataset.action as Action;
      b.addEventListener('mouseenter', () => emit({ type: 'estimate', action }));
      b.addEventListener('focus', () => emit({ type: 'estimate', action }));
      on(b, { type: 'action', action }, true);
    }
    d.toneSelect.addEventListener('change', () => emit({ type: 'tone', tone: d.toneSelect.value as Tone }));
    d.platformSelect.addEventListener('change', () =>
      emit({ type: 'platform', platform: d.platformSelect.value as Platform }),
    );
    d.styleSelect.addEventListener('change', () => emit({ type: 'style', styleId: d.styleSelect.value || null }));
    const onEnter = (input: HTMLInputElement, make: (text: string) => Intent) =>
      input.addEventListener('keydown', (e) => {
        const text = input.value.trim();
        if (e.key !== 'Enter' || !e.isTrusted || !text) return;
        e.preventDefault();
        input.value = '';
        emit(make(text));
      });
    onEnter(d.instruction, (instruction) => ({ type: 'ask', instruction }));
    onEnter(d.refine, (instruction) => ({ type: 'refine', instruction }));
    d.actionRow.addEventListener('keydown', (e) => roveToolbar(e, d.actionRow));
    on(d.pill, { type: 'open' }, true);
    on(d.siteOff, { type: 'site-off' }, true);
    on(d.blockedNext, { type: 'blocked-next' });
    on(d.closeBtn, { type: 'close' });
    on(d.prev, { type: 'version', delta: -1 });
    on(d.next, { type: 'version', delta: 1 });
    const b = d.buttons;
    const simple = [
      'stop',
      'replace',
      'insert',
      'copy',
      'continue',
      'retry',
      'undo',
      'signin',
      'upgrade',
      'options',
    ] as const;
    for (const name of simple) on(b[name], { type: name });
    on(d.chipButtons.undo, { type: 'undo' });
    on(d.chipButtons.replaceAgain, { type: 'replace' });
    on(d.chipButtons.expand, { type: 'expand' });
    on(d.chipButtons.close, { type: 'close' });
  }
}

/** Arrow keys, Home and End move between the toolbar's controls; Tab enters and leaves it as one stop. */
function roveToolbar(e: KeyboardEvent, row: HTMLElement) {
  const items = [...row.querySelectorAll<HTMLElement>('button, select')].filter(
    (el) => !el.hidden && !el.closest('[hidden]'),
  );
  const at = items.indexOf(e.target as HTMLElement);
  if (at < 0) return;
  // A select uses Up/Down itself; Left/Right still move on.
  const to =
    e.key === 'ArrowRight'
      ? at + 1
      : e.key === 'ArrowLeft'
        ? at - 1
        : e.key === 'Home'
          ? 0
          : e.key === 'End'
            ? items.length - 1
            : null;
  if (to === null) return;
  e.preventDefault();
  const target = items[(to + items.length) % items.length]!;
  for (const el of items) el.tabIndex = el === target ? 0 : -1;
  target.focus();
}
