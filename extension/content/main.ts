/**
 * Wiring of the content script in one frame: the agent always; the UI in the top frame, or here when the
 * top frame cannot be reached (a top page the extension may not run in). Messages between frames go
 * through the background (lib/frames.ts says why).
 *
 * Depends on: the background's `frame/to-host` and `frame/call` routes, content/agent, content/panel.
 */
import type { ContentScriptContext } from 'wxt/utils/content-script-context';
import { browser } from 'wxt/browser';
import { isOpenToolbarMessage } from '../lib/protocol';
import {
  isAgentCall,
  isFromFrame,
  parseAgentCall,
  parseAgentEvent,
  type AgentCall,
  type AgentCallResult,
  type AgentEvent,
  type CallFrameMessage,
  type ToHostMessage,
} from '../lib/frames';
import { FrameAgent } from './agent';
import { FrameGeometry } from './geometry';
import { Panel, type FrameLink } from './panel';
import { parseSettings, SETTINGS_KEY, siteName, type InPageSettings } from '../lib/settings';

export function startContent(ctx: ContentScriptContext): void {
  const isTop = window.top === window;
  const geometry = new FrameGeometry();
  geometry.listen(ctx);

  // The tab's site, also from inside a cross-origin frame (ancestorOrigins lists the frames above, top last).
  const ancestors = location.ancestorOrigins;
  const site = siteName(ancestors && ancestors.length > 0 ? `${ancestors[ancestors.length - 1]!}/` : location.href);

  let panel: Panel | null = null;
  const localPanel = () => {
    if (!panel) {
      panel = new Panel(ctx, geometry, site);
      panel.listen();
    }
    return panel;
  };

  // In a frame: the top frame's UI, unless it proved unreachable (then this frame shows its own).
  let standalone = isTop;
  const deliver = (event: AgentEvent) => {
    if (standalone) return void localPanel().onAgentEvent(localLink, event);
    const msg: ToHostMessage = { type: 'frame/to-host', event };
    void browser.runtime
      .sendMessage(msg)
      .then((r: { ok?: boolean } | undefined) => {
        if (r?.ok) return;
        standalone = true;
        void localPanel().onAgentEvent(localLink, event);
      })
      .catch(() => {
        /* the extension was reloaded: this script is orphaned */
      });
  };

  // Settings: read once, then kept current (the options page and "off on this site" change them).
  let settings: InPageSettings = parseSettings(undefined);
  void browser.storage.local.get(SETTINGS_KEY).then(
    (r) => (settings = parseSettings(r[SETTINGS_KEY])),
    () => {},
  );
  browser.storage.onChanged.addListener((changes, area) => {
    if (area === 'local' && changes[SETTINGS_KEY]) settings = parseSettings(changes[SETTINGS_KEY].newValue);
  });

  const agent = new FrameAgent(ctx, {
    deliver,
    ignore: (n) => panel?.owns(n) ?? false,
    geometry,
    settings: () => settings,
    site,
  });
  const localLink: FrameLink = {
    remote: false,
    call: <C extends AgentCall>(call: C) => agent.call(call) as Promise<AgentCallResult<C>>,
  };
  const remoteLinks = new Map<number, FrameLink>();
  const remoteLink = (frameId: number): FrameLink => {
    let link = remoteLinks.get(frameId);
    if (!link) {
      link = {
        remote: true,
        call: async <C extends AgentCall>(call: C) => {
          const msg: CallFrameMessage = { type: 'frame/call', frameId, call };
          const r = (await browser.runtime.sendMessage(msg)) as AgentCallResult<C> | undefined;
          return (
            r ?? ({ ok: false, message: 'The frame holding the text is gone; select it again.' } as AgentCallResult<C>)
          );
        },
      };
      remoteLinks.set(frameId, link);
    }
    return link;
  };

  agent.listen();

  browser.runtime.onMessage.addListener((msg: unknown, _sender, sendResponse) => {
    if (isOpenToolbarMessage(msg)) {
      // The shortcut reaches every frame (only the focused one answers); the context menu names its frame.
      if (msg.scope !== 'focused' || agent.focusedHere()) agent.openFromCommand();
      return undefined;
    }
    if (isFromFrame(msg) && isTop) {
      const event = parseAgentEvent(msg.event);
      if (event) void localPanel().onAgentEvent(remoteLink(msg.frameId), event);
      sendResponse({ ok: true });
      return undefined;
    }
    if (isAgentCall(msg)) {
      const call = parseAgentCall(msg.call);
      if (!call) {
        sendResponse({ ok: false, message: 'bad call' });
        return undefined;
      }
      void agent.call(call).then(sendResponse, (err: unknown) => sendResponse({ ok: false, message: String(err) }));
      return true;
    }
    return undefined;
  });
}
