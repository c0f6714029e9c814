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
import type { Action, Platform, Tone } from '../../shared/contract';
import type { FrameGeometry, Offset } from './geometry';
import { drawsTextOnCanvas } from '../lib/selection';
import { SETTINGS_KEY, updateSettings, withSite } from '../lib/settings';
import { placeCard } from '../lib/placement';
import { h } from './dom';
import { CSS } from './styles';

/** How the UI reaches the agent that owns a selection: directly in this frame, or through the background. */
export interface FrameLink {
  /** True when the agent lives in another frame (its report needs the frame's offset). */
  remote: boolean;
  call<C extends AgentCall>(call: C): Promise<AgentCallResult<C>>;
}

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
    this.ctx.addEventListener(document, 'keydown', (e: KeyboardEvent) => {
      if (e.key === 'Escape' && this.phase !== 'idle') this.close();
    }, { capture: true });
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
          if (this.phase !== 'idle') this.close();
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
    const seq = ++this.seq;
    const offset = link.remote ? await this.geometry.offsetOf(report.nonce) : { x: 0, y: 0 };
    if (seq !== this.seq) return;
    if (this.phase !== 'idle' && this.phase !== 'toolbar' && this.phase !== 'button') this.close();
    else if (this.held && this.held.report.id !== report.id) void this.held.link.call({ op: 'forget', id: this.held.report.id }).catch(() => {});
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
    const estimate = h('div', { class: 'estimate', 'data-redraft': 'estimate' });
    const pill = h('button', { type: 'button', class: 'pill', 'data-redraft': 'button', 'aria-label': 'Rewrite with Redraft', title: 'Rewrite with Redraft (Alt+Shift+R)', text: 'R' });
    const toolbar = h('div', { class: 'card toolbar', role: 'toolbar', 'aria-label': 'Redraft', 'data-redraft': 'toolbar' }, actionRow, estimate);
    // Panel
    const title = h('span', { class: 'title' });
    const status = h('span', { class: 'status', 'data-redraft': 'status' });
    const closeBtn = h('button', { type: 'button', class: 'close', 'aria-label': 'Close', title: 'Close (Esc)', 'data-cmd': 'close', text: '×' });
    const result = h('div', { class: 'result', 'data-redraft': 'result', 'aria-live': 'polite' });
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
      { class: 'card panel', role: 'dialog', 'aria-label': 'Redraft result', 'data-redraft': 'panel' },
      h('div', { class: 'head' }, h('span', { class: 'brand', text: 'R' }), title, status, closeBtn),
      result,
      error,
      h('div', { class: 'row buttons' }, ...Object.values(buttons)),
      note,
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
    closeBtn.addEventListener('click', () => this.close());
    pill.addEventListener('mousedown', (e) => e.preventDefault()); // keep the page's selection
    pill.addEventListener('click', () => {
      if (this.phase === 'button') this.setPhase('toolbar');
    });
    siteOff.addEventListener('mousedown', (e) => e.preventDefault());
    siteOff.addEventListener('click', (e) => void (e.isTrusted && this.turnOffHere()));
    buttons.stop.addEventListener('click', () => this.stop());
    buttons.replace.addEventListener('click', (e) => void (e.isTrusted && this.replace()));
    buttons.copy.addEventListener('click', () => void this.copy());
    buttons.retry.addEventListener('click', (e) => e.isTrusted && this.start(this.action));
    buttons.undo.addEventListener('click', (e) => void (e.isTrusted && this.undo()));
    buttons.signin.addEventListener('click', () => void browser.runtime.sendMessage({ type: 'ui/open-popup' }).catch(() => {}));
    buttons.upgrade.addEventListener('click', () => void browser.runtime.sendMessage({ type: 'ui/open-popup' }).catch(() => {}));
    buttons.options.addEventListener('click', () => void browser.runtime.sendMessage({ type: 'ui/open-options' }).catch(() => {}));
    root.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.close();
    });
    void shadow;
    return { root, pill, toolbar, estimate, panel, title, status, result, error, note, buttons, hint, actionButtons };
  }

  private showEstimate(a: Action) {
    if (!this.held || !this.els) return;
    const e = estimateTokens({ text: this.held.report.text, action: a, tone: this.tone, platform: this.platform });
    const what = a === 'tone' ? `${ACTION_LABELS[a]} (${TONE_LABELS[this.tone].toLowerCase()})` : a === 'social_post' ? `${ACTION_LABELS[a]} (${PLATFORM_LABELS[this.platform]})` : ACTION_LABELS[a];
    // One plain figure; what is held while it runs is on hover.
    this.els.estimate.replaceChildren(`${what}: `, h('b', { text: `~${fmt(e.likelyTokens)} tokens` }));
    this.els.estimate.title = `About ${fmt(e.likelyTokens)} tokens (${fmt(e.inputTokens)} in, plus the answer). Up to ${fmt(e.maxTokens)} are held from your balance while it runs; only what is used is charged.`;
  }

  private start(action: Action) {
    if (!this.held) return;
    this.disconnect();
    this.action = action;
    this.result = '';
    this.error = null;
    this.stopped = false;
    this.note = '';
    this.clearWait();
    const msg: StartMessage = {
      type: 'start',
      requestId: newRequestId(),
      text: this.held.report.text,
      action,
      ...(action === 'tone' ? { tone: this.tone } : {}),
      ...(action === 'social_post' ? { platform: this.platform } : {}),
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
  }

  private onServerMessage(m: ServerMessage) {
    if (m.type === 'chunk') {
      this.result += m.text;
      this.els.result.textContent = this.result;
      this.els.result.scrollTop = this.els.result.scrollHeight;
      return;
    }
    this.disconnect();
    if (m.type === 'done') {
      this.stopped = m.stopped;
      this.setPhase('done');
    } else {
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

  private close() {
    this.disconnect();
    this.clearWait();
    if (this.held) void this.held.link.call({ op: 'forget', id: this.held.report.id }).catch(() => {});
    this.replaced = false;
    this.busy = false;
    this.held = null;
    this.setPhase('idle');
  }

  private hide() {
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
      this.showEstimate(this.action);
      this.position(e.toolbar);
      return;
    }
    const editable = !!this.held?.report.editable;
    const b = e.buttons;
    const failed = phase === 'error' ? this.error : null;
    e.title.textContent = ACTION_LABELS[this.action] + (this.action === 'tone' ? ` · ${TONE_LABELS[this.tone]}` : this.action === 'social_post' ? ` · ${PLATFORM_LABELS[this.platform]}` : '');
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
    b.options.hidden = failed?.next !== 'options';
    e.note.hidden = !this.note;
    e.note.textContent = this.note;
    this.position(e.panel);
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
