/**
 * The toolbar and the result panel: one per tab, in the top frame (or in a frame whose top frame has no
 * content script). Selections arrive as reports from the agent of whichever frame holds them; Replace and
 * Undo are asked of that agent, which answers only after reading the field back.
 *
 * Framework-free on purpose: this script is injected into every page. The UI lives in a shadow root
 * (styles isolated both ways) that is only created the first time text is selected. It never talks to the
 * API and never sees a token: it streams through the background over a runtime port.
 *
 * Depends on: WXT's shadow-root UI, the background (runtime port + messages), a FrameLink per report.
 */
import { createShadowRootUi, type ShadowRootContentScriptUi } from 'wxt/utils/content-script-ui/shadow-root';
import type { ContentScriptContext } from 'wxt/utils/content-script-context';
import { browser, type Browser } from 'wxt/browser';
import { estimateTokens } from '../lib/estimate';
import { explainError, type Explained } from '../lib/errors';
import { ACTIONS, ACTION_LABELS, PLATFORM_LABELS, PLATFORMS, TONE_LABELS, TONES } from '../lib/labels';
import { newRequestId, REWRITE_PORT, type ServerMessage, type StartMessage } from '../lib/protocol';
import { offsetBox, type AgentCall, type AgentCallResult, type AgentEvent, type Box, type SelectionReport } from '../lib/frames';
import { INSTRUCTION_MAX_CHARS, type Action, type Platform, type Style, type Tone } from '../../shared/contract';
import type { FrameGeometry, Offset } from './geometry';
import { drawsTextOnCanvas } from '../lib/selection';
import { LAST_STYLE_KEY, SETTINGS_KEY, STYLES_CHANGED_KEY, updateSettings, withSite } from '../lib/settings';
import { placeCard } from '../lib/placement';
import { blockFor, upgradeLabel, type Block } from '../lib/readiness';
import type { UsageResult } from '../lib/protocol';
import { h } from './dom';
import { CSS } from './styles';

/** How the UI reaches the agent that owns a selection: directly in this frame, or through the background. */
export interface FrameLink {
  /** True when the agent lives in another frame (its report needs the frame's offset). */
  remote: boolean;
  call<C extends AgentCall>(call: C): Promise<AgentCallResult<C>>;
}

/** One take: every result is kept as a version (Try again and Refine add one); the user picks which to use. */
interface Version {
  text: string;
  action: Action;
  tone: Tone;
  platform: Platform;
  /** What it was made from: the selection, or (a refinement) the previous version. */
  source: string;
  instruction?: string;
  styleId?: string;
  stopped: boolean;
}

const MAX_VERSIONS = 10;


interface Held {
  link: FrameLink;
  report: SelectionReport;
  /** The frame's offset in this viewport (0,0 for this frame; null when it could not be found). */
  offset: Offset | null;
}

/** `button`: the small Redraft button beside a selection, which opens the toolbar. */
type Phase = 'idle' | 'button' | 'toolbar' | 'streaming' | 'done' | 'error';

const fmt = (n: number) => n.toLocaleString('en-US');

export class Panel {
  private ui: ShadowRootContentScriptUi<void> | null = null;
  private uiLoading: Promise<void> | null = null;
  private els!: ReturnType<Panel['render']>;
  private phase: Phase = 'idle';
  private held: Held | null = null;
  /** Orders selection reports: a late frame offset never overrides a newer selection. */
  private seq = 0;
  private action: Action = 'rewrite';
  private tone: Tone = TONES[0];
  private platform: Platform = PLATFORMS[0];
  private result = '';
  private versions: Version[] = [];
  private shown = -1;
  /** The user's saved styles (null: not loaded, or not available while signed out). */
  private styles: Style[] | null = null;
  private stylesLoadedAt = 0;
  private styleId: string | null = null;
  /** What blocks a rewrite right now (shown in the toolbar before the click), from the last usage answer. */
  private block: Block | null = null;
  private usage: UsageResult | null = null;
  private port: Browser.runtime.Port | null = null;
  /** The field holds the result (read back by the agent). */
  private replaced = false;
  private busy = false;
  private error: Explained | null = null;
  private waitTimer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;
  private note = '';

  constructor(
    private readonly ctx: ContentScriptContext,
    private readonly geometry: FrameGeometry,
    /** The tab's site ("off on this site"), null on non-web pages. */
    private readonly site: string | null,
  ) {}

  listen() {
    // Esc closes Redraft and goes no further: a page's own Esc handler (a modal composer) must not see it.
    this.ctx.addEventListener(window, 'keydown', (e: KeyboardEvent) => {
      if (e.key !== 'Escape' || this.phase === 'idle') return;
      e.stopImmediatePropagation();
      e.preventDefault();
      void this.escape();
    }, { capture: true });
    browser.storage.onChanged.addListener((changes, area) => {
      if (area === 'local' && changes[STYLES_CHANGED_KEY]) this.stylesLoadedAt = 0;
    });
    void browser.storage.local.get(LAST_STYLE_KEY).then((r) => {
      const v = r[LAST_STYLE_KEY];
      if (typeof v === 'string') this.styleId = v;
    }, () => {});
    // Navigating away (or a bfcache freeze) aborts the request: the port disconnects.
    this.ctx.addEventListener(window, 'pagehide', () => this.disconnect());
    this.ctx.onInvalidated(() => this.disconnect());
  }

  /** Nodes of this UI (the agent of this frame never takes them for a selection). */
  owns(node: Node | null | undefined): boolean {
    const host = this.ui?.shadowHost;
    if (!host || !node) return false;
    return node === host || host.contains(node) || node.getRootNode() === host.shadowRoot;
  }

  /** An event from the agent of this frame or (through the background) of another frame of the tab. */
  async onAgentEvent(link: FrameLink, event: AgentEvent): Promise<void> {
    switch (event.type) {
      case 'selection':
        return this.onSelection(link, event.report);
      case 'dismiss':
        if (event.reason === 'escape') {
          if (this.phase !== 'idle') void this.escape();
        } else if (this.phase === 'toolbar' || this.phase === 'button') this.hide();
        return;
      case 'no-selection':
        // A canvas editor (Google Docs) keeps its text out of the DOM: say so rather than "select some text".
        return this.showHint(
          event.canvas || drawsTextOnCanvas(document)
            ? 'This editor draws its text on a canvas (as Google Docs does), so Redraft cannot read or replace a selection here. Copy the text into a text field to rewrite it.'
            : 'Select some text first, then press Alt+Shift+R.',
        );
      case 'replacement-changed':
        if (!this.held || this.held.link !== link || this.held.report.id !== event.id || !this.replaced) return;
        // Reverted: Replace is offered again. Edited: Undo here would refuse, Ctrl+Z in the field still works.
        this.replaced = event.state === 'edited';
        this.note = event.state === 'reverted' ? 'Undone in the field: the original text is back.' : 'The field was edited after the replacement.';
        this.setPhase(this.phase);
        return;
    }
  }

  private async onSelection(link: FrameLink, report: SelectionReport) {
    // A rewrite in flight keeps its panel; a finished one gives way to a new selection.
    if (this.phase === 'streaming' && !report.fromCommand) return;
    // A finished panel gives way first (closing cancels reports still on their way, not this one).
    if (this.phase !== 'idle' && this.phase !== 'toolbar' && this.phase !== 'button') this.close();
    else if (this.held && this.held.report.id !== report.id) void this.held.link.call({ op: 'forget', id: this.held.report.id }).catch(() => {});
    const seq = ++this.seq;
    const offset = link.remote ? await this.geometry.offsetOf(report.nonce) : { x: 0, y: 0 };
    if (seq !== this.seq) return;
    this.held = { link, report, offset };
    await this.ensureUi();
    if (seq !== this.seq) return;
    this.setPhase(report.mode === 'button' ? 'button' : 'toolbar');
    // Opened from the keyboard: move focus to the first action (Enter runs it, Esc closes).
    if (report.fromCommand) this.els.actionButtons[0]?.focus();
  }

  private async ensureUi() {
    if (this.ui) return;
    this.uiLoading ??= (async () => {
      const ui = await createShadowRootUi<void>(this.ctx, {
        name: 'redraft-selection',
        position: 'inline',
        anchor: document.documentElement,
        append: 'last',
        css: CSS,
        isolateEvents: ['keydown', 'keyup', 'keypress', 'mousedown', 'mouseup', 'click', 'input', 'focusin', 'focusout'],
        onMount: (container, shadow) => {
          this.els = this.render(container, shadow);
        },
      });
      ui.mount();
      this.ui = ui;
    })();
    await this.uiLoading;
  }

  private render(container: HTMLElement, shadow: ShadowRoot) {
    const root = h('div', { class: 'rd', hidden: '', 'data-redraft': 'root' });
    // Toolbar
    const toneSelect = h('select', { 'aria-label': 'Tone', 'data-option': 'tone' }, ...TONES.map((t) => h('option', { value: t, text: TONE_LABELS[t] })));
    const platformSelect = h('select', { 'aria-label': 'Platform', 'data-option': 'platform' }, ...PLATFORMS.map((p) => h('option', { value: p, text: PLATFORM_LABELS[p] })));
    const actionButtons = ACTIONS.map((a) => h('button', { type: 'button', 'data-action': a, text: ACTION_LABELS[a] }));
    const actionRow = h('div', { class: 'row' }, h('span', { class: 'brand', title: 'Redraft', text: 'R' }));
    for (const b of actionButtons) {
      const a = b.dataset.action as Action;
      actionRow.append(a === 'tone' ? h('span', { class: 'combo' }, b, toneSelect) : a === 'social_post' ? h('span', { class: 'combo' }, b, platformSelect) : b);
    }
    const siteOff = h('button', { type: 'button', class: 'quiet', 'data-cmd': 'site-off', title: 'Show nothing when I select text on this site (the shortcut still works)', text: 'Off on this site' });
    if (this.site) actionRow.append(siteOff);
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
    const blocked = h('div', { class: 'blocked', role: 'status', 'data-redraft': 'blocked', hidden: '' }, blockedText, blockedNext);
    const pill = h('button', { type: 'button', class: 'pill', 'data-redraft': 'button', 'aria-label': 'Rewrite with Redraft', title: 'Rewrite with Redraft (Alt+Shift+R)', text: 'R' });
    const toolbar = h('div', { class: 'card toolbar', 'data-redraft': 'toolbar' }, actionRow, blocked, instruction, estimate);
    actionRow.setAttribute('role', 'toolbar');
    actionRow.setAttribute('aria-label', 'Redraft actions');
    // Panel
    const title = h('span', { class: 'title' });
    const status = h('span', { class: 'status', 'data-redraft': 'status' });
    const closeBtn = h('button', { type: 'button', class: 'close', 'aria-label': 'Close', title: 'Close (Esc)', 'data-cmd': 'close', text: '×' });
    // Not a live region: chunks are not read out one by one; `live` announces the result once, when done.
    const result = h('div', { class: 'result', 'data-redraft': 'result' });
    const live = h('div', { class: 'sr-only', role: 'status', 'data-redraft': 'live' });
    const prev = h('button', { type: 'button', class: 'nav', 'data-cmd': 'prev', 'aria-label': 'Previous version', text: '‹' });
    const next = h('button', { type: 'button', class: 'nav', 'data-cmd': 'next', 'aria-label': 'Next version', text: '›' });
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
    const cmd = (name: string, label: string, cls = '') => h('button', { type: 'button', 'data-cmd': name, text: label, ...(cls ? { class: cls } : {}) });
    const buttons = {
      stop: cmd('stop', 'Stop'),
      replace: cmd('replace', 'Replace', 'primary'),
      copy: cmd('copy', 'Copy'),
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
      error,
      h('div', { class: 'row buttons' }, ...Object.values(buttons)),
      refine,
      note,
      live,
    );
    const hint = h('div', { class: 'card hint', role: 'status', 'data-redraft': 'hint', hidden: '' });
    root.append(pill, toolbar, panel, hint);
    container.append(root);

    // Wiring. Actions spend the user's tokens: only real user input (isTrusted) may start them,
    // never a script on the page dispatching synthetic clicks.
    for (const b of actionButtons) {
      const a = b.dataset.action as Action;
      b.addEventListener('mouseenter', () => this.showEstimate(a));
      b.addEventListener('focus', () => this.showEstimate(a));
      b.addEventListener('mousedown', (e) => e.preventDefault()); // keep the page's selection visible
      b.addEventListener('click', (e) => {
        if (e.isTrusted) this.start(a);
      });
    }
    toneSelect.addEventListener('change', () => {
      this.tone = toneSelect.value as Tone;
      this.showEstimate('tone');
    });
    platformSelect.addEventListener('change', () => {
      this.platform = platformSelect.value as Platform;
      this.showEstimate('social_post');
    });
    closeBtn.addEventListener('click', () => void this.escape());
    styleSelect.addEventListener('change', () => {
      this.styleId = styleSelect.value || null;
      void browser.storage.local.set({ [LAST_STYLE_KEY]: this.styleId ?? '' }).catch(() => {});
    });
    instruction.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && e.isTrusted && instruction.value.trim()) {
        e.preventDefault();
        this.start('rewrite');
      }
    });
    refine.addEventListener('keydown', (e) => {
      const v = this.versions[this.shown];
      if (e.key === 'Enter' && e.isTrusted && v && refine.value.trim() && this.phase !== 'streaming') {
        e.preventDefault();
        const wish = refine.value.trim();
        refine.value = '';
        this.start('rewrite', { source: v.text, instruction: wish });
      }
    });
    prev.addEventListener('click', () => this.showVersion(this.shown - 1));
    next.addEventListener('click', () => this.showVersion(this.shown + 1));
    actionRow.addEventListener('keydown', (e) => this.roveToolbar(e, actionRow));
    pill.addEventListener('mousedown', (e) => e.preventDefault()); // keep the page's selection
    pill.addEventListener('click', () => {
      if (this.phase === 'button') this.setPhase('toolbar');
    });
    siteOff.addEventListener('mousedown', (e) => e.preventDefault());
    siteOff.addEventListener('click', (e) => void (e.isTrusted && this.turnOffHere()));
    buttons.stop.addEventListener('click', () => this.stop());
    buttons.replace.addEventListener('click', (e) => void (e.isTrusted && this.replace()));
    buttons.copy.addEventListener('click', () => void this.copy());
    buttons.retry.addEventListener('click', (e) => {
      const v = this.versions[this.shown];
      if (!e.isTrusted) return;
      if (v) {
        this.tone = v.tone;
        this.platform = v.platform;
        this.start(v.action, { source: v.source, ...(v.instruction ? { instruction: v.instruction } : {}) });
      } else this.start(this.action);
    });
    buttons.undo.addEventListener('click', (e) => void (e.isTrusted && this.undo()));
    buttons.signin.addEventListener('click', () => void browser.runtime.sendMessage({ type: 'ui/open-popup' }).catch(() => {}));
    buttons.upgrade.addEventListener('click', (e) => void (e.isTrusted && this.upgrade()));
    blockedNext.addEventListener('click', (e) => {
      if (!e.isTrusted || !this.block) return;
      if (this.block.next === 'upgrade') void this.upgrade();
      else void browser.runtime.sendMessage({ type: 'ui/open-popup' }).catch(() => {});
    });
    buttons.options.addEventListener('click', () => void browser.runtime.sendMessage({ type: 'ui/open-options' }).catch(() => {}));
    void shadow;
    return { blocked, blockedText, blockedNext, root, pill, toolbar, estimate, panel, title, status, result, error, note, buttons, hint, actionButtons, actionRow, styleSelect, instruction, refine, versionsNav, prev, next, position, live };
  }

  private showEstimate(a: Action) {
    if (!this.held || !this.els) return;
    const e = estimateTokens({ text: this.held.report.text, action: a, tone: this.tone, platform: this.platform });
    const what = a === 'tone' ? `${ACTION_LABELS[a]} (${TONE_LABELS[this.tone].toLowerCase()})` : a === 'social_post' ? `${ACTION_LABELS[a]} (${PLATFORM_LABELS[this.platform]})` : ACTION_LABELS[a];
    // One plain figure; what is held while it runs is on hover.
    this.els.estimate.replaceChildren(`${what}: `, h('b', { text: `~${fmt(e.likelyTokens)} tokens` }));
    this.els.estimate.title = `About ${fmt(e.likelyTokens)} tokens (${fmt(e.inputTokens)} in, plus the answer). Up to ${fmt(e.maxTokens)} are held from your balance while it runs; only what is used is charged.`;
  }

  /**
   * A new version: the selection (or, to refine, a previous version) with the action, the toolbar's instruction
   * or the refinement, and the chosen style. Each is its own metered request.
   */
  private start(action: Action, opts: { source?: string; instruction?: string } = {}) {
    if (!this.held) return;
    this.disconnect();
    this.action = action;
    const typed = this.els.instruction.value.trim();
    const wish = opts.instruction ?? (opts.source === undefined && typed ? typed : undefined);
    const version: Version = {
      text: '',
      action,
      tone: this.tone,
      platform: this.platform,
      source: opts.source ?? this.held.report.text,
      ...(wish ? { instruction: wish } : {}),
      ...(this.styleId ? { styleId: this.styleId } : {}),
      stopped: false,
    };
    this.versions.push(version);
    if (this.versions.length > MAX_VERSIONS) this.versions.shift();
    this.shown = this.versions.length - 1;
    this.result = '';
    this.error = null;
    this.stopped = false;
    this.note = '';
    this.clearWait();
    const msg: StartMessage = {
      type: 'start',
      requestId: newRequestId(),
      text: version.source,
      action,
      ...(action === 'tone' ? { tone: this.tone } : {}),
      ...(action === 'social_post' ? { platform: this.platform } : {}),
      ...(version.instruction ? { instruction: version.instruction } : {}),
      ...(version.styleId ? { styleId: version.styleId } : {}),
    };
    let port: Browser.runtime.Port;
    try {
      port = browser.runtime.connect({ name: REWRITE_PORT });
    } catch {
      this.fail({ type: 'error', status: 0, code: 'bad_message', message: 'extension context invalidated' });
      return;
    }
    this.port = port;
    port.onMessage.addListener((m: ServerMessage) => {
      if (this.port !== port) return;
      this.onServerMessage(m);
    });
    port.onDisconnect.addListener(() => {
      if (this.port !== port) return;
      this.port = null;
      if (this.phase === 'streaming') this.fail({ type: 'error', status: 0, code: 'stream_interrupted', message: 'the extension restarted' });
    });
    port.postMessage(msg);
    this.setPhase('streaming');
    // The panel takes the focus (the toolbar it came from is gone): Esc, Tab and screen readers start there.
    this.els.panel.focus({ preventScroll: true });
  }

  private showVersion(i: number) {
    if (this.phase === 'streaming' || i < 0 || i >= this.versions.length) return;
    this.shown = i;
    const v = this.versions[i]!;
    this.result = v.text;
    this.action = v.action;
    this.stopped = v.stopped;
    this.error = null;
    this.setPhase('done');
  }

  /** Arrow keys, Home and End move between the toolbar's controls; Tab enters and leaves it as one stop. */
  private roveToolbar(e: KeyboardEvent, row: HTMLElement) {
    const items = [...row.querySelectorAll<HTMLElement>('button, select')].filter((el) => !el.hidden && !el.closest('[hidden]'));
    const at = items.indexOf(e.target as HTMLElement);
    if (at < 0) return;
    // A select uses Up/Down itself; Left/Right still move on.
    const to = e.key === 'ArrowRight' ? at + 1 : e.key === 'ArrowLeft' ? at - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? items.length - 1 : null;
    if (to === null) return;
    e.preventDefault();
    const target = items[(to + items.length) % items.length]!;
    for (const el of items) el.tabIndex = el === target ? 0 : -1;
    target.focus();
  }

  /** The user's saved styles for the toolbar (at most every 30 s, at once after the options page changed them). */
  private async loadStyles() {
    if (Date.now() - this.stylesLoadedAt < 30_000) return this.renderStyles();
    this.stylesLoadedAt = Date.now();
    const r = (await browser.runtime.sendMessage({ type: 'styles/list' }).catch(() => null)) as { ok: boolean; styles?: Style[] } | null;
    this.styles = r?.ok && r.styles ? r.styles : null;
    this.renderStyles();
  }

  private renderStyles() {
    const select = this.els.styleSelect;
    const list = this.styles ?? [];
    select.hidden = list.length === 0;
    if (this.styleId && !list.some((s) => s.id === this.styleId)) this.styleId = list.length ? null : this.styleId;
    select.replaceChildren(h('option', { value: '', text: 'No style' }), ...list.map((s) => h('option', { value: s.id, text: s.name })));
    select.value = this.styleId && list.some((s) => s.id === this.styleId) ? this.styleId : '';
  }

  /** Signed out, no tokens left, or too long: said in the toolbar before any click, actions off. */
  private async checkBlocked() {
    const held = this.held;
    if (!held) return;
    const ask = async (fresh: boolean) => ((await browser.runtime.sendMessage({ type: 'status/get', fresh }).catch(() => null)) as UsageResult | null) ?? null;
    this.usage = await ask(false);
    if (this.held !== held) return;
    this.block = blockFor(this.usage, held.report.text.length);
    // A block from a recent answer is checked once more against the API (tokens may be back, or the user signed in).
    if (this.block && this.block.kind !== 'too_long') {
      this.usage = await ask(true);
      if (this.held !== held) return;
      this.block = blockFor(this.usage, held.report.text.length);
    }
    const e = this.els;
    const b = this.block;
    e.blocked.hidden = !b;
    e.blockedText.textContent = b ? `${b.sentence} ` : '';
    e.blockedNext.hidden = !b || b.next === null;
    e.blockedNext.textContent = !b ? '' : b.next === 'sign_in' ? 'Sign in' : b.kind === 'no_tokens' ? (b.upgradeLabel ?? 'Open Redraft') : '';
    for (const a of e.actionButtons) a.disabled = !!b;
    e.instruction.disabled = !!b;
    e.estimate.hidden = !!b;
    this.position(e.toolbar);
  }

  /** Upgrade opens Checkout directly when billing offers it (the popup otherwise). */
  private async upgrade() {
    const u = this.usage?.ok ? this.usage.usage : null;
    if (u?.billing?.canUpgrade) {
      const r = (await browser.runtime.sendMessage({ type: 'billing/open', kind: 'checkout' }).catch(() => null)) as { ok: boolean; message?: string } | null;
      if (r && !r.ok && r.message) {
        this.note = r.message;
        this.setPhase(this.phase);
      }
      return;
    }
    await browser.runtime.sendMessage({ type: 'ui/open-popup' }).catch(() => {});
  }

  /** Esc or ×: close, and give the field back its focus and selection. */
  private async escape() {
    const held = this.held;
    this.close(false);
    if (!held) return;
    await held.link.call({ op: 'restore', id: held.report.id }).catch(() => {});
    void held.link.call({ op: 'forget', id: held.report.id }).catch(() => {});
  }

  private onServerMessage(m: ServerMessage) {
    if (m.type === 'chunk') {
      this.result += m.text;
      const v = this.versions[this.shown];
      if (v) v.text = this.result;
      this.els.result.textContent = this.result;
      this.els.result.scrollTop = this.els.result.scrollHeight;
      return;
    }
    this.disconnect();
    if (m.type === 'done') {
      this.stopped = m.stopped;
      const v = this.versions[this.shown];
      if (v) v.stopped = m.stopped;
      this.setPhase('done');
      // Announced once, now that it is whole (the streaming text itself is not a live region).
      this.els.live.textContent = `${m.stopped ? 'Stopped' : 'Done'}: ${this.result}`;
      const inPanel = this.els.panel.contains(this.els.panel.getRootNode() instanceof ShadowRoot ? (this.els.panel.getRootNode() as ShadowRoot).activeElement : null);
      if (inPanel) (this.els.buttons.replace.hidden ? this.els.buttons.copy : this.els.buttons.replace).focus({ preventScroll: true });
    } else {
      // A failed take leaves no empty version behind (the previous ones stay to pick from).
      if (this.versions[this.shown]?.text === '') {
        this.versions.splice(this.shown, 1);
        this.shown = this.versions.length - 1;
        this.result = this.versions[this.shown]?.text ?? '';
      }
      this.fail(m);
    }
  }

  private fail(m: Extract<ServerMessage, { type: 'error' }>) {
    this.error = explainError(m);
    this.setPhase('error');
    if (this.error.next === 'wait' && this.error.waitSeconds) {
      let left = this.error.waitSeconds;
      const retry = this.els.buttons.retry;
      retry.disabled = true;
      retry.textContent = `Try again (${left})`;
      this.waitTimer = setInterval(() => {
        left -= 1;
        if (left > 0) retry.textContent = `Try again (${left})`;
        else {
          this.clearWait();
          retry.disabled = false;
          retry.textContent = 'Try again';
        }
      }, 1000);
    }
  }

  private clearWait() {
    if (this.waitTimer) clearInterval(this.waitTimer);
    this.waitTimer = null;
    if (this.els) {
      this.els.buttons.retry.disabled = false;
      this.els.buttons.retry.textContent = 'Try again';
    }
  }

  private stop() {
    if (this.phase !== 'streaming' || !this.port) return;
    this.port.postMessage({ type: 'stop' });
    this.els.status.textContent = 'Stopping…';
  }

  private async replace() {
    const held = this.held;
    if (!held || !this.result || this.replaced || this.busy) return;
    this.busy = true;
    this.note = 'Replacing…';
    this.setPhase('done');
    const r = await held.link.call({ op: 'replace', id: held.report.id, text: this.result }).catch((err: unknown) => ({ ok: false as const, message: `Could not reach the page: ${String(err)}` }));
    this.busy = false;
    if (this.held !== held) return;
    this.els.note.dataset.how = r.ok ? r.how : 'failed';
    if (r.ok) {
      this.replaced = true;
      this.note = r.nativeUndo ? 'Replaced. Undo (here or Ctrl+Z in the field) restores the original.' : 'Replaced. Undo here restores the original.';
    } else {
      this.note = `${r.message}`;
    }
    this.setPhase('done');
  }

  private async undo() {
    const held = this.held;
    if (!held || !this.replaced || this.busy) return;
    this.busy = true;
    const r = await held.link.call({ op: 'undo', id: held.report.id }).catch((err: unknown) => ({ ok: false as const, message: `Could not reach the page: ${String(err)}` }));
    this.busy = false;
    if (this.held !== held) return;
    if (r.ok) {
      this.replaced = false;
      this.note = 'Original restored.';
    } else this.note = r.message;
    this.setPhase('done');
  }

  private async copy() {
    const text = this.result;
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch {
      // Clipboard API refused (permissions policy, unfocused document): the legacy path still works on a user gesture.
      const ta = h('textarea', { 'aria-hidden': 'true' });
      ta.value = text;
      ta.style.cssText = 'position:fixed;opacity:0;left:0;top:0;width:1px;height:1px;';
      this.els.root.append(ta);
      ta.select();
      ok = document.execCommand('copy');
      ta.remove();
    }
    this.note = ok ? 'Copied to the clipboard.' : 'Could not copy: select the text above and press Ctrl+C.';
    this.setPhase(this.phase);
  }

  private disconnect() {
    const port = this.port;
    this.port = null;
    try {
      port?.disconnect();
    } catch {
      /* already gone */
    }
  }

  private close(forget = true) {
    this.seq++; // a selection report still on its way (awaiting its frame's offset) must not reopen the UI
    this.disconnect();
    this.clearWait();
    if (this.held && forget) void this.held.link.call({ op: 'forget', id: this.held.report.id }).catch(() => {});
    this.replaced = false;
    this.busy = false;
    this.held = null;
    this.versions = [];
    this.shown = -1;
    this.result = '';
    if (this.els) {
      this.els.instruction.value = '';
      this.els.refine.value = '';
    }
    this.setPhase('idle');
  }

  private hide() {
    this.seq++;
    if (this.phase === 'toolbar' || this.phase === 'button') this.setPhase('idle');
  }

  /** "Off on this site": passive selections here show nothing from now on (the shortcut still works). */
  private async turnOffHere() {
    const site = this.site;
    if (!site) return;
    await updateSettings(
      { get: async () => (await browser.storage.local.get(SETTINGS_KEY))[SETTINGS_KEY], set: (v) => browser.storage.local.set({ [SETTINGS_KEY]: v }) },
      (s) => withSite(s, site, true),
    ).catch(() => {});
    this.close();
    await this.showHint(`Redraft is off on ${site}. Alt+Shift+R still works here; turn it back on in Redraft's options.`);
  }

  private async showHint(text: string) {
    await this.ensureUi();
    const { hint, root } = this.els;
    if (this.phase !== 'idle') return;
    hint.textContent = text;
    hint.hidden = false;
    root.hidden = false;
    this.els.toolbar.hidden = true;
    this.els.panel.hidden = true;
    root.style.left = `${Math.max(8, window.innerWidth - 340)}px`;
    root.style.top = '16px';
    // Long enough to read (about 20 characters a second).
    this.ctx.setTimeout(() => {
      hint.hidden = true;
      if (this.phase === 'idle') root.hidden = true;
    }, Math.max(2500, text.length * 50));
  }

  private setPhase(phase: Phase) {
    this.phase = phase;
    const e = this.els;
    if (!e) return;
    e.hint.hidden = true;
    e.root.hidden = phase === 'idle';
    e.root.classList.toggle('dark', !!this.held?.report.dark);
    // The UI stays in English left-to-right; the result follows its own text's direction (RTL aligned right).
    e.result.dir = 'auto';
    e.toolbar.hidden = phase !== 'toolbar';
    e.pill.hidden = phase !== 'button';
    if (phase === 'button') {
      this.placeButton(e.pill);
      return;
    }
    e.panel.hidden = !(phase === 'streaming' || phase === 'done' || phase === 'error');
    if (phase === 'idle') return;
    if (phase === 'toolbar') {
      void this.loadStyles();
      void this.checkBlocked();
      this.initRoving();
      this.showEstimate(this.action);
      this.position(e.toolbar);
      return;
    }
    const editable = !!this.held?.report.editable;
    const b = e.buttons;
    const failed = phase === 'error' ? this.error : null;
    const version = this.versions[this.shown];
    e.title.textContent =
      ACTION_LABELS[this.action] +
      (this.action === 'tone' ? ` · ${TONE_LABELS[version?.tone ?? this.tone]}` : this.action === 'social_post' ? ` · ${PLATFORM_LABELS[version?.platform ?? this.platform]}` : '') +
      (version?.instruction ? ` · “${version.instruction.length > 40 ? `${version.instruction.slice(0, 39)}…` : version.instruction}”` : '');
    e.versionsNav.hidden = this.versions.length < 2;
    e.position.textContent = `${this.shown + 1}/${this.versions.length}`;
    e.position.setAttribute('aria-label', `Version ${this.shown + 1} of ${this.versions.length}`);
    e.prev.disabled = phase === 'streaming' || this.shown <= 0;
    e.next.disabled = phase === 'streaming' || this.shown >= this.versions.length - 1;
    e.refine.hidden = !(phase === 'done' && this.result.length > 0 && !this.replaced);
    e.status.textContent = phase === 'streaming' ? 'Writing…' : phase === 'error' ? '' : this.stopped ? 'Stopped' : editable ? 'Done' : 'Done · this text is not editable, copy it';
    e.result.textContent = this.result;
    e.result.classList.toggle('streaming', phase === 'streaming');
    e.result.hidden = phase === 'error' && !this.result;
    e.error.hidden = !failed;
    e.error.textContent = failed?.sentence ?? '';
    const hasResult = this.result.length > 0;
    b.stop.hidden = phase !== 'streaming';
    b.replace.hidden = !(phase === 'done' && editable && hasResult && !this.replaced);
    b.replace.disabled = this.busy;
    b.undo.disabled = this.busy;
    b.copy.hidden = !(phase !== 'streaming' && hasResult);
    b.retry.hidden = phase === 'streaming' || this.replaced || failed?.next === 'sign_in' || failed?.next === 'upgrade';
    b.undo.hidden = !this.replaced;
    b.signin.hidden = failed?.next !== 'sign_in';
    b.upgrade.hidden = failed?.next !== 'upgrade';
    const offer = this.usage?.ok && this.usage.usage.billing?.canUpgrade ? upgradeLabel(this.usage.usage) : null;
    b.upgrade.textContent = offer ?? 'Open Redraft';
    b.options.hidden = failed?.next !== 'options';
    e.note.hidden = !this.note;
    e.note.textContent = this.note;
    this.position(e.panel);
  }

  /** One tab stop for the toolbar's controls: the first action (arrow keys move on). */
  private initRoving() {
    const items = [...this.els.actionRow.querySelectorAll<HTMLElement>('button, select')];
    items.forEach((el, i) => (el.tabIndex = i === 0 ? 0 : -1));
  }

  /** The small button at the end of the selection (the pointer for text fields), inside the viewport. */
  private placeButton(pill: HTMLElement) {
    if (!this.held) return;
    const { report, offset } = this.held;
    const o = offset ?? { x: 0, y: 0 };
    const r = offsetBox(report.rect, o.x, o.y);
    const p = report.point && offset ? { x: report.point.x + o.x, y: report.point.y + o.y } : null;
    const at = p && report.kind === 'field' ? { x: p.x + 10, y: p.y + 6 } : report.dir === 'rtl' ? { x: r.left - 34, y: r.bottom + 4 } : { x: r.right + 6, y: r.bottom + 4 };
    const vw = document.documentElement.clientWidth || window.innerWidth;
    const root = this.els.root;
    root.style.left = `${Math.round(Math.max(8, Math.min(at.x, vw - 36)))}px`;
    root.style.top = `${Math.round(Math.max(8, Math.min(at.y, window.innerHeight - 36)))}px`;
  }

  /** Fixed position next to the selection, never over it while there is room, inside the viewport (lib/placement). */
  private position(card: HTMLElement) {
    if (!this.held) return;
    const root = this.els.root;
    const { report, offset } = this.held;
    // A frame whose position could not be found: the top-right corner, not a guess over the text.
    const o = offset ?? { x: 0, y: 0 };
    const r: Box = offset ? offsetBox(report.rect, o.x, o.y) : { left: Infinity, top: 0, right: Infinity, bottom: 8 };
    const p = report.point && offset ? { x: report.point.x + o.x, y: report.point.y + o.y } : null;
    // A text field's own box is the whole field: anchor at the pointer there (it was released over the selection).
    const anchor: Box = p && report.kind === 'field' ? { left: p.x, top: p.y - 10, right: p.x + 1, bottom: p.y + 10 } : r;
    const vw = document.documentElement.clientWidth || window.innerWidth;
    const { left, top } = placeCard(anchor, { w: card.offsetWidth || 400, h: card.offsetHeight || 120 }, { w: vw, h: window.innerHeight }, report.dir);
    root.style.left = `${Math.round(left)}px`;
    root.style.top = `${Math.round(top)}px`;
  }
}
