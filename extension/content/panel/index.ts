/**
 * The toolbar and the result panel of a tab, wired: one per tab, in the top frame (or in a frame whose top
 * frame has no content script). Selections arrive as reports from the agent of whichever frame holds them;
 * Replace, Insert below, Undo and "where is it now" are asked of that agent, which answers only after
 * reading the field back.
 *
 * This file only wires: the state machine (state.ts) decides what is shown, the view (view.ts) draws it
 * and reports intents, position.ts places it, the port client (port-client.ts) streams. Effects (agent
 * calls, storage, the background) happen here.
 *
 * Depends on: WXT's shadow-root UI, the background (runtime port + messages), a FrameLink per report,
 * FrameGeometry (frame offsets), chrome.storage (settings, last style).
 */
import { createShadowRootUi, type ShadowRootContentScriptUi } from 'wxt/utils/content-script-ui/shadow-root';
import type { ContentScriptContext } from 'wxt/utils/content-script-context';
import { browser } from 'wxt/browser';
import { explainError } from '../../lib/errors';
import { newRequestId, type ServerMessage, type StartMessage, type UsageResult } from '../../lib/protocol';
import type { AgentCall, AgentCallResult, AgentEvent, SelectionReport } from '../../lib/frames';
import type { Style } from '../../../shared/contract';
import { drawsTextOnCanvas } from '../../lib/selection';
import { LAST_STYLE_KEY, SETTINGS_KEY, STYLES_CHANGED_KEY, updateSettings, withSite } from '../../lib/settings';
import { blockFor, upgradeLabel } from '../../lib/readiness';
import { platformForSite } from '../../lib/social';
import { TONES } from '../../lib/labels';
import type { FrameGeometry, Offset } from '../geometry';
import { h } from './dom';
import { CSS } from './styles';
import { initialState, reduce, takeFor, viewOf, type PanelEvent, type PanelState, type Version } from './state';
import { PanelView, type Intent } from './view';
import { placeCardFor, placePill } from './position';
import { openRewrite, type PortLike, type RewriteStream } from './port-client';

/** How the UI reaches the agent that owns a selection: directly in this frame, or through the background. */
export interface FrameLink {
  /** True when the agent lives in another frame (its report needs the frame's offset). */
  remote: boolean;
  call<C extends AgentCall>(call: C): Promise<AgentCallResult<C>>;
}

interface Held {
  link: FrameLink;
  /** The frame's offset in this viewport (0,0 for this frame; null when it could not be found). */
  offset: Offset | null;
}

const unreachable = (err: unknown) => ({ ok: false as const, message: `Could not reach the page: ${String(err)}` });

export class Panel {
  private ui: ShadowRootContentScriptUi<void> | null = null;
  private uiLoading: Promise<void> | null = null;
  private view: PanelView | null = null;
  private state: PanelState;
  private held: Held | null = null;
  /** Orders selection reports and relocations: a late answer never overrides a newer one. */
  private seq = 0;
  private stream: RewriteStream | null = null;
  private styles: Style[] | null = null;
  private stylesLoadedAt = 0;
  private usage: UsageResult | null = null;
  private waitTimer: ReturnType<typeof setInterval> | null = null;
  private hintTimer: number | null = null;
  private relocating = false;

  constructor(
    private readonly ctx: ContentScriptContext,
    private readonly geometry: FrameGeometry,
    /** The tab's site ("off on this site", the social platform's default), null on non-web pages. */
    private readonly site: string | null,
  ) {
    this.state = initialState({ platform: platformForSite(site) ?? 'x', tone: TONES[0], styleId: null });
  }

  listen(): void {
    // Esc closes Redraft and goes no further: a page's own Esc handler (a modal composer) must not see it.
    this.ctx.addEventListener(
      window,
      'keydown',
      (e: KeyboardEvent) => {
        if (e.key !== 'Escape' || this.state.phase === 'idle') return;
        e.stopImmediatePropagation();
        e.preventDefault();
        void this.escape();
      },
      { capture: true },
    );
    // The page scrolled or resized: the UI follows the selection (frames below say so themselves).
    this.ctx.addEventListener(window, 'scroll', () => this.relocateSoon(), { capture: true, passive: true });
    this.ctx.addEventListener(window, 'resize', () => this.relocateSoon(), { passive: true });
    browser.storage.onChanged.addListener((changes, area) => {
      if (area === 'local' && changes[STYLES_CHANGED_KEY]) this.stylesLoadedAt = 0;
    });
    void browser.storage.local.get(LAST_STYLE_KEY).then(
      (r) => {
        const v = r[LAST_STYLE_KEY];
        if (typeof v === 'string' && v) this.dispatch({ type: 'chose', styleId: v });
      },
      () => {},
    );
    // Navigating away (or a bfcache freeze) aborts the request: the port disconnects.
    this.ctx.addEventListener(window, 'pagehide', () => this.endStream());
    this.ctx.onInvalidated(() => this.endStream());
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
          if (this.state.phase !== 'idle') void this.escape();
        } else if (this.state.phase === 'toolbar' || this.state.phase === 'button') this.hide();
        return;
      case 'moved':
        if (this.held?.link === link) this.relocateSoon();
        return;
      case 'no-selection':
        // A canvas editor (Google Docs) keeps its text out of the DOM: say so rather than "select some text".
        return this.showHint(
          event.canvas || drawsTextOnCanvas(document)
            ? 'This editor draws its text on a canvas (as Google Docs does), so Redraft cannot read or replace a selection here. Copy the text into a text field to rewrite it.'
            : 'Select some text first, then press Alt+Shift+R.',
        );
      case 'replacement-changed':
        if (this.held?.link !== link || this.state.report?.id !== event.id) return;
        this.dispatch({ type: 'field-changed', state: event.state });
        return;
    }
  }

  // ---- state → screen ----

  private dispatch(e: PanelEvent): void {
    const before = this.state;
    this.state = reduce(before, e);
    this.render(before);
  }

  private render(before: PanelState): void {
    const v = this.view;
    const s = this.state;
    if (!v) return;
    v.apply(viewOf(s, { siteOff: !!this.site }));
    if (s.phase === 'toolbar' && before.phase !== 'toolbar') {
      v.setChoices(s.tone, s.platform);
      v.initRoving();
      void this.loadStyles();
      void this.checkBlocked();
    }
    if (s.waitLeft > 0 && !this.waitTimer) this.waitTimer = setInterval(() => this.dispatch({ type: 'tick' }), 1000);
    if (s.waitLeft === 0) this.clearWait();
    this.place();
  }

  /** Puts the visible card by the selection; the pill and the toolbar wait while the selection is scrolled away. */
  private place(): void {
    const v = this.view;
    const report = this.state.report;
    if (!v || !report || !this.held) return;
    const card = v.visibleCard();
    if (!card) return;
    const viewport = { w: document.documentElement.clientWidth || window.innerWidth, h: window.innerHeight };
    const placed =
      card === v.dom.pill
        ? placePill(report, this.held.offset, viewport)
        : placeCardFor(report, this.held.offset, { w: card.offsetWidth || 400, h: card.offsetHeight || 120 }, viewport);
    const root = v.dom.root;
    root.style.left = `${placed.left}px`;
    root.style.top = `${placed.top}px`;
    const waits = placed.offscreen && (card === v.dom.pill || card === v.dom.toolbar);
    root.style.visibility = waits ? 'hidden' : '';
  }

  /** Asks the agent where the selection is now (once per frame), then places the UI there. */
  private relocateSoon(): void {
    if (this.relocating || !this.held || this.state.phase === 'idle') return;
    this.relocating = true;
    requestAnimationFrame(() => void this.relocate().finally(() => (this.relocating = false)));
  }

  private async relocate(): Promise<void> {
    const held = this.held;
    const report = this.state.report;
    if (!held || !report) return;
    const seq = this.seq;
    const r = await held.link.call({ op: 'locate', id: report.id }).catch(() => null);
    if (!r?.ok || seq !== this.seq || this.held !== held) return;
    // A frame whose new offset does not arrive keeps its last one (never a jump to the corner).
    const offset = held.link.remote ? ((await this.geometry.offsetOf(r.nonce)) ?? held.offset) : held.offset;
    if (seq !== this.seq || this.held !== held || this.state.report?.id !== report.id) return;
    held.offset = offset;
    this.dispatch({ type: 'moved', rect: r.rect });
  }

  // ---- selections ----

  private async onSelection(link: FrameLink, report: SelectionReport) {
    if (this.state.phase === 'streaming' && !report.fromCommand) return;
    // A finished panel gives way; the previous selection is forgotten by its agent.
    if (this.held && this.state.report?.id !== report.id) this.forgetHeld();
    this.endStream();
    const seq = ++this.seq;
    const offset = link.remote ? await this.geometry.offsetOf(report.nonce) : { x: 0, y: 0 };
    if (seq !== this.seq) return;
    await this.ensureUi();
    if (seq !== this.seq) return;
    this.held = { link, offset };
    this.dispatch({ type: 'selected', report });
    // Opened from the keyboard: move focus to the first action (Enter runs it, Esc closes).
    if (report.fromCommand) this.view?.dom.actionButtons[0]?.focus();
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
        isolateEvents: [
          'keydown',
          'keyup',
          'keypress',
          'mousedown',
          'mouseup',
          'click',
          'input',
          'focusin',
          'focusout',
        ],
        onMount: (container) => {
          this.view = new PanelView(container, { site: !!this.site, onIntent: (i) => void this.onIntent(i) });
        },
      });
      ui.mount();
      this.ui = ui;
    })();
    await this.uiLoading;
  }

  // ---- what the user asked for ----

  private async onIntent(i: Intent): Promise<void> {
    const s = this.state;
    switch (i.type) {
      case 'action':
        return this.start(
          takeFor(s, 'new', {
            action: i.action,
            ...(this.typedInstruction() ? { instruction: this.typedInstruction() } : {}),
          }),
        );
      case 'ask':
        return this.start(takeFor(s, 'new', { action: 'rewrite', instruction: i.instruction }));
      case 'refine':
        if (s.phase !== 'streaming') this.start(takeFor(s, 'refine', { instruction: i.instruction }));
        return;
      case 'retry':
        return this.start(takeFor(s, s.versions[s.shown] ? 'retry' : 'new'));
      case 'continue':
        return this.continueShown();
      case 'estimate':
        return this.dispatch({ type: 'estimating', action: i.action });
      case 'tone':
        return this.dispatch({ type: 'chose', tone: i.tone });
      case 'platform':
        return this.dispatch({ type: 'chose', platform: i.platform });
      case 'style':
        this.dispatch({ type: 'chose', styleId: i.styleId });
        void browser.storage.local.set({ [LAST_STYLE_KEY]: i.styleId ?? '' }).catch(() => {});
        return;
      case 'open':
        return this.dispatch({ type: 'open-toolbar' });
      case 'site-off':
        return this.turnOffHere();
      case 'blocked-next':
        if (s.block?.next === 'upgrade') return this.upgrade();
        void browser.runtime.sendMessage({ type: 'ui/open-popup' }).catch(() => {});
        return;
      case 'close':
        return this.escape();
      case 'stop':
        this.stream?.stop();
        return this.dispatch({ type: 'stopping' });
      case 'replace':
      case 'insert':
        return this.apply(i.type);
      case 'undo':
        return this.undo();
      case 'copy':
        return this.copy();
      case 'signin':
        void browser.runtime.sendMessage({ type: 'ui/open-popup' }).catch(() => {});
        return;
      case 'upgrade':
        return this.upgrade();
      case 'options':
        void browser.runtime.sendMessage({ type: 'ui/open-options' }).catch(() => {});
        return;
      case 'version':
        return this.dispatch({ type: 'showed', index: s.shown + i.delta });
      case 'expand':
        this.dispatch({ type: 'expanded' });
        this.view?.dom.panel.focus({ preventScroll: true });
        return;
    }
  }

  private typedInstruction(): string | undefined {
    return this.view?.dom.instruction.value.trim() || undefined;
  }

  /** A new version: each is its own metered request through the background. */
  private start(chosen: Omit<Version, 'text' | 'stopped' | 'finish'> | null) {
    if (!chosen || !this.held) return;
    const styleName = chosen.styleId ? this.styles?.find((x) => x.id === chosen.styleId)?.name : undefined;
    const take = styleName ? { ...chosen, styleName } : chosen;
    this.endStream();
    if (this.view) this.view.dom.instruction.value = '';
    this.dispatch({ type: 'started', take });
    this.send(messageFor(take));
    // The panel takes the focus (the toolbar it came from is gone): Esc, Tab and screen readers start there.
    this.view?.dom.panel.focus({ preventScroll: true });
  }

  /** The shown version was cut off by the length cap: a new request writes what comes after it, appended. */
  private continueShown() {
    const v = this.state.versions[this.state.shown];
    if (v?.finish !== 'length' || this.state.applied) return;
    this.endStream();
    this.dispatch({ type: 'continued' });
    this.send({ ...messageFor(v), continuation: v.text });
  }

  private send(msg: StartMessage) {
    this.stream = openRewrite(
      msg,
      { message: (m) => this.onServerMessage(m), lost: () => this.onLost() },
      (name) => browser.runtime.connect({ name }) as unknown as PortLike,
    );
    if (!this.stream)
      this.dispatch({
        type: 'failed',
        error: explainError({ status: 0, code: 'bad_message', message: 'extension context invalidated' }),
      });
  }

  private onServerMessage(m: ServerMessage) {
    if (m.type === 'chunk') return this.dispatch({ type: 'chunk', text: m.text });
    this.stream = null;
    if (m.type === 'done') {
      this.dispatch({ type: 'finished', stopped: m.stopped, finishReason: m.finishReason });
      const v = this.view;
      const root = v?.dom.panel.getRootNode();
      const inPanel = v && root instanceof ShadowRoot && v.dom.panel.contains(root.activeElement);
      if (v && inPanel)
        (v.dom.buttons.replace.hidden ? v.dom.buttons.copy : v.dom.buttons.replace).focus({ preventScroll: true });
      return;
    }
    this.dispatch({ type: 'failed', error: explainError(m) });
  }

  private onLost() {
    this.stream = null;
    if (this.state.phase === 'streaming')
      this.dispatch({
        type: 'failed',
        error: explainError({ status: 0, code: 'stream_interrupted', message: 'the extension restarted' }),
      });
  }

  /** Replace or Insert below, in the frame that holds the field; said only once the agent read it back. */
  private async apply(how: 'replace' | 'insert') {
    const held = this.held;
    const s = this.state;
    const v = s.versions[s.shown];
    if (!held || !s.report || !v?.text || s.applied || s.busy || s.phase === 'streaming') return;
    this.dispatch({ type: 'working', note: how === 'insert' ? 'Inserting…' : 'Replacing…' });
    const r = await held.link.call({ op: how, id: s.report.id, text: v.text }).catch(unreachable);
    if (this.held !== held) return;
    if (this.view) this.view.dom.note.dataset.how = this.view.dom.chip.dataset.how = r.ok ? r.how : 'failed';
    this.dispatch(
      r.ok ? { type: 'applied', how, nativeUndo: r.nativeUndo } : { type: 'apply-failed', message: r.message },
    );
    this.relocateSoon(); // the text under the chip changed
  }

  private async undo() {
    const held = this.held;
    const s = this.state;
    if (!held || !s.report || !s.applied || s.busy) return;
    this.dispatch({ type: 'working', note: 'Undoing…' });
    const r = await held.link.call({ op: 'undo', id: s.report.id }).catch(unreachable);
    if (this.held !== held) return;
    this.dispatch(r.ok ? { type: 'undone', how: r.how } : { type: 'undo-failed', message: r.message });
    this.relocateSoon();
  }

  private async copy() {
    const text = this.state.versions[this.state.shown]?.text ?? '';
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch {
      // Clipboard API refused (permissions policy, unfocused document): the legacy path still works on a user gesture.
      const ta = h('textarea', { 'aria-hidden': 'true' });
      ta.value = text;
      ta.style.cssText = 'position:fixed;opacity:0;left:0;top:0;width:1px;height:1px;';
      this.view?.dom.root.append(ta);
      ta.select();
      ok = document.execCommand('copy');
      ta.remove();
    }
    this.dispatch({
      type: 'noted',
      text: ok ? 'Copied to the clipboard.' : 'Could not copy: select the text above and press Ctrl+C.',
    });
  }

  /** Signed out, no tokens left, or too long: said in the toolbar before any click, actions off. */
  private async checkBlocked() {
    const id = this.state.report?.id;
    const length = this.state.report?.text.length ?? 0;
    const ask = async (fresh: boolean) =>
      ((await browser.runtime.sendMessage({ type: 'status/get', fresh }).catch(() => null)) as UsageResult | null) ??
      null;
    const answer = (usage: UsageResult | null) => {
      this.usage = usage;
      const offer = usage?.ok && usage.usage.billing?.canUpgrade ? upgradeLabel(usage.usage) : null;
      this.dispatch({ type: 'blocked', block: blockFor(usage, length), upgradeOffer: offer });
    };
    answer(await ask(false));
    if (this.state.report?.id !== id) return;
    // A block from a recent answer is checked once more against the API (tokens may be back, or the user signed in).
    if (this.state.block && this.state.block.kind !== 'too_long') {
      const fresh = await ask(true);
      if (this.state.report?.id === id) answer(fresh);
    }
  }

  /** The user's saved styles for the toolbar (at most every 30 s, at once after the options page changed them). */
  private async loadStyles() {
    if (Date.now() - this.stylesLoadedAt >= 30_000) {
      this.stylesLoadedAt = Date.now();
      const r = (await browser.runtime.sendMessage({ type: 'styles/list' }).catch(() => null)) as {
        ok: boolean;
        styles?: Style[];
      } | null;
      this.styles = r?.ok && r.styles ? r.styles : null;
    }
    const list = this.styles ?? [];
    const chosen = this.state.styleId;
    // A remembered style that no longer exists is dropped (kept while the list could not be loaded).
    if (chosen && this.styles && !list.some((s) => s.id === chosen)) this.dispatch({ type: 'chose', styleId: null });
    this.view?.setStyles(list, this.state.styleId);
  }

  /** Upgrade opens Checkout directly when billing offers it (the popup otherwise). */
  private async upgrade() {
    const u = this.usage?.ok ? this.usage.usage : null;
    if (u?.billing?.canUpgrade) {
      const r = (await browser.runtime.sendMessage({ type: 'billing/open', kind: 'checkout' }).catch(() => null)) as {
        ok: boolean;
        message?: string;
      } | null;
      if (r && !r.ok && r.message) this.dispatch({ type: 'noted', text: r.message });
      return;
    }
    await browser.runtime.sendMessage({ type: 'ui/open-popup' }).catch(() => {});
  }

  /** Esc or ×: close, and give the field back its focus and selection. */
  private async escape() {
    const held = this.held;
    const id = this.state.report?.id;
    this.close(false);
    if (!held || !id) return;
    await held.link.call({ op: 'restore', id }).catch(() => {});
    void held.link.call({ op: 'forget', id }).catch(() => {});
  }

  private endStream() {
    this.stream?.close();
    this.stream = null;
  }

  private clearWait() {
    if (this.waitTimer) clearInterval(this.waitTimer);
    this.waitTimer = null;
  }

  private forgetHeld() {
    const id = this.state.report?.id;
    if (this.held && id) void this.held.link.call({ op: 'forget', id }).catch(() => {});
  }

  private close(forget = true) {
    this.seq++; // a selection report still on its way (awaiting its frame's offset) must not reopen the UI
    this.endStream();
    this.clearWait();
    if (forget) this.forgetHeld();
    this.held = null;
    if (this.view) this.view.dom.instruction.value = this.view.dom.refine.value = '';
    this.dispatch({ type: 'closed' });
  }

  private hide() {
    this.seq++;
    this.dispatch({ type: 'dismissed' });
  }

  /** "Off on this site": passive selections here show nothing from now on (the shortcut still works). */
  private async turnOffHere() {
    const site = this.site;
    if (!site) return;
    await updateSettings(
      {
        get: async () => (await browser.storage.local.get(SETTINGS_KEY))[SETTINGS_KEY],
        set: (v) => browser.storage.local.set({ [SETTINGS_KEY]: v }),
      },
      (s) => withSite(s, site, true),
    ).catch(() => {});
    this.close();
    await this.showHint(
      `Redraft is off on ${site}. Alt+Shift+R still works here; turn it back on in Redraft's options.`,
    );
  }

  private async showHint(text: string) {
    await this.ensureUi();
    const v = this.view;
    if (!v || this.state.phase !== 'idle') return;
    v.hint(text);
    const root = v.dom.root;
    root.style.visibility = '';
    root.style.left = `${Math.max(8, window.innerWidth - 340)}px`;
    root.style.top = '16px';
    if (this.hintTimer !== null) clearTimeout(this.hintTimer);
    // Long enough to read (about 20 characters a second).
    this.hintTimer = this.ctx.setTimeout(
      () => {
        this.hintTimer = null;
        v.dom.hint.hidden = true;
        if (this.state.phase === 'idle') root.hidden = true;
      },
      Math.max(2500, text.length * 50),
    );
  }
}

/** The start message of a take. */
function messageFor(v: Omit<Version, 'text' | 'stopped' | 'finish'>): StartMessage {
  return {
    type: 'start',
    requestId: newRequestId(),
    text: v.source,
    action: v.action,
    ...(v.action === 'tone' ? { tone: v.tone } : {}),
    ...(v.action === 'social_post' ? { platform: v.platform } : {}),
    ...(v.instruction ? { instruction: v.instruction } : {}),
    ...(v.styleId ? { styleId: v.styleId } : {}),
  };
}
