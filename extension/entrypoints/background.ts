/**
 * The service worker: holds the session (tokens never leave it), relays rewrite streams between content
 * scripts and the API, answers the popup and options page, keeps the toolbar badge current, and opens
 * the toolbar from the keyboard shortcut and the context menu.
 */
import { defineBackground } from 'wxt/utils/define-background';
import { browser, type Browser } from 'wxt/browser';
import { checkApiUrl, OPEN_TOOLBAR_COMMAND } from '../lib/build-config';
import { serveRewritePort } from '../lib/relay';
import {
  openToolbarRoute,
  REWRITE_PORT,
  type BackgroundRequest,
  type BackgroundResponses,
  type UsageResult,
} from '../lib/protocol';
import { createSessions, SessionError, type ClerkSession, type KeyValueArea } from '../lib/session';
import { billingUrl, fetchSettings, fetchUsage, saveOverageCap, styles } from '../lib/api';
import { createHistory } from '../lib/history';
import { badgeFor } from '../lib/badge';
import {
  isCallFrame,
  isToHost,
  parseAgentCall,
  parseAgentEvent,
  type AgentCallMessage,
  type FromFrameMessage,
} from '../lib/frames';

const BUILD = __REDRAFT_BUILD__;
const API_URL_KEY = 'apiUrl';
const MENU_ID = 'redraft-open-toolbar';
const BADGE_ALARM = 'redraft-badge';

const area = (a: Browser.storage.StorageArea): KeyValueArea => ({
  get: async (key) => (await a.get(key))[key],
  set: (key, value) => a.set({ [key]: value }),
  remove: (key) => a.remove(key),
});

async function apiUrl(): Promise<string> {
  const stored = (await browser.storage.local.get(API_URL_KEY))[API_URL_KEY];
  if (typeof stored === 'string') {
    const ok = checkApiUrl(stored);
    if (ok.ok) return ok.origin;
  }
  return BUILD.apiUrl;
}

/** Clerk in the service worker (only in builds with a publishable key; dropped from the bundle otherwise). */
function clerkSession(): ClerkSession | null {
  if (!__REDRAFT_CLERK__ || !BUILD.clerkPublishableKey) return null;
  type Clerk = Awaited<ReturnType<typeof import('@clerk/chrome-extension/client').createClerkClient>>;
  let client: Promise<Clerk> | null = null;
  const load = () =>
    (client ??= import('@clerk/chrome-extension/client')
      .then(({ createClerkClient }) =>
        createClerkClient({
          publishableKey: BUILD.clerkPublishableKey!,
          background: true,
          ...(BUILD.clerkSyncHost ? { syncHost: BUILD.clerkSyncHost } : {}),
        }),
      )
      .catch((err: unknown) => {
        client = null;
        throw err;
      }));
  // The popup signs in and out through Clerk's storage: start over when it changes.
  browser.storage.onChanged.addListener((changes, areaName) => {
    if (areaName === 'local' && Object.keys(changes).some((k) => k.includes('clerk'))) client = null;
  });
  return {
    async token(fresh) {
      const clerk = await load();
      if (!clerk.session) return null;
      return (await clerk.session.getToken(fresh ? { skipCache: true } : undefined)) ?? null;
    },
    async userId() {
      const clerk = await load();
      return clerk.user ? (clerk.user.primaryEmailAddress?.emailAddress ?? clerk.user.id) : null;
    },
    async signOut() {
      const clerk = await load();
      await clerk.signOut();
      client = null;
    },
  };
}

export default defineBackground(() => {
  void browser.storage.session.setAccessLevel?.({ accessLevel: 'TRUSTED_CONTEXTS' }).catch(() => {});
  const sessions = createSessions({
    fetch: (...args) => fetch(...args),
    apiUrl,
    devAuth: BUILD.devAuth,
    local: area(browser.storage.local),
    session: area(browser.storage.session),
    clerk: clerkSession(),
  });
  const api = { fetch: (...args: Parameters<typeof fetch>) => fetch(...args), apiUrl, getToken: sessions.getToken };
  // Recent rewrites (input start + result) on this device only: storage.local, never sent to the API.
  const history = createHistory(area(browser.storage.local));

  // The last usage answer, for the toolbar's "blocked before the click" (signed out, no tokens, too long).
  let lastUsage: { at: number; result: UsageResult } | null = null;
  const STATUS_TTL_MS = 15_000;

  async function refreshBadge() {
    const result = await fetchUsage(api);
    lastUsage = { at: Date.now(), result };
    const badge = badgeFor(result.ok ? result.usage : null);
    await Promise.all([
      browser.action.setBadgeText({ text: result.ok || result.status === 401 ? badge.text : '' }),
      browser.action.setBadgeBackgroundColor({ color: badge.color }),
      browser.action.setTitle({ title: result.ok || result.status === 401 ? badge.title : 'Redraft' }),
    ]).catch(() => {});
    return result;
  }

  // The rewrite stream: content script ⇄ background ⇄ API.
  browser.runtime.onConnect.addListener((port) => {
    if (port.name !== REWRITE_PORT || !port.sender?.tab) {
      port.disconnect();
      return;
    }
    serveRewritePort(port, { ...api, afterRequest: () => void refreshBadge(), onComplete: (r) => history.add(r) });
  });

  const isExtensionPage = (sender: Browser.runtime.MessageSender) =>
    sender.id === browser.runtime.id && (sender.url ?? '').startsWith(browser.runtime.getURL('/'));

  async function openPopup(): Promise<boolean> {
    try {
      await browser.action.openPopup();
      return true;
    } catch {
      await browser.tabs.create({ url: browser.runtime.getURL('/popup.html') });
      return true;
    }
  }

  async function handle(
    msg: BackgroundRequest,
    sender: Browser.runtime.MessageSender,
  ): Promise<BackgroundResponses[BackgroundRequest['type']] | undefined> {
    // Content scripts (any page) may only ask to open the extension's own pages.
    if (msg.type === 'ui/open-popup') return { ok: await openPopup() };
    if (msg.type === 'ui/open-options') {
      await browser.runtime.openOptionsPage();
      return { ok: true };
    }
    if (msg.type === 'status/get') {
      // A blocking answer (signed out, nothing left) is re-checked soon: an upgrade or a new period lifts it.
      const blocking = lastUsage && (!lastUsage.result.ok || lastUsage.result.usage.remainingTokens <= 0);
      const ttl = blocking ? 2_000 : STATUS_TTL_MS;
      return !msg.fresh && lastUsage && Date.now() - lastUsage.at < ttl ? lastUsage.result : refreshBadge();
    }
    // Upgrade from the toolbar opens Checkout directly (a click in Redraft's own UI; pages cannot send this).
    if (msg.type === 'billing/open' && msg.kind === 'checkout' && !isExtensionPage(sender)) {
      const r = await billingUrl(api, 'checkout');
      if (r.ok) await browser.tabs.create({ url: r.url });
      return r;
    }
    // The toolbar lists the user's own styles to choose one; only extension pages change them.
    if (msg.type === 'styles/list') return styles(api, { kind: 'list' }) as Promise<BackgroundResponses['styles/list']>;
    if (!isExtensionPage(sender)) return undefined;
    switch (msg.type) {
      case 'auth/state':
        return sessions.state();
      case 'auth/dev-sign-in':
        try {
          await sessions.devSignIn(msg.userId.trim());
          void refreshBadge();
          return { ok: true, state: await sessions.state() };
        } catch (err) {
          return { ok: false, message: err instanceof SessionError ? err.message : `Sign-in failed: ${String(err)}` };
        }
      case 'auth/sign-out':
        await sessions.signOut();
        await history.clear(); // the next person on this profile does not see these texts
        await refreshBadge();
        return sessions.state();
      case 'usage/get':
        return refreshBadge();
      case 'billing/open': {
        const r = await billingUrl(api, msg.kind);
        if (r.ok) await browser.tabs.create({ url: r.url });
        return r;
      }
      case 'styles/put':
        return styles(api, { kind: 'put', id: msg.id, name: msg.name, instructions: msg.instructions });
      case 'styles/delete':
        return styles(api, { kind: 'delete', id: msg.id });
      case 'settings/get':
        return fetchSettings(api);
      case 'settings/set-overage-cap': {
        const cap = msg.overageCapUsd;
        if (cap !== null && !(typeof cap === 'number' && Number.isFinite(cap) && cap >= 0))
          return {
            ok: false,
            status: 400,
            code: 'bad_message',
            message: 'The spending cap must be an amount of US dollars.',
            unsupported: false,
          };
        const r = await saveOverageCap(api, cap);
        if (r.ok) void refreshBadge(); // the hard cap moved
        return r;
      }
      case 'history/list':
        return history.list();
      case 'history/clear':
        await history.clear();
        return { ok: true };
      case 'settings/set-api-url': {
        const check = checkApiUrl(msg.apiUrl);
        if (!check.ok) return { ok: false, message: check.reason };
        await browser.storage.local.set({ [API_URL_KEY]: check.origin });
        void refreshBadge();
        return { ok: true, apiUrl: check.origin };
      }
    }
    return undefined;
  }

  /**
   * One UI per tab: a frame's agent reports to the top frame's UI, and only the top frame may ask an agent
   * of its own tab to edit. Pages cannot send these (no externally_connectable); content scripts can, and
   * are held to their own tab.
   */
  async function routeFrames(msg: unknown, sender: Browser.runtime.MessageSender): Promise<unknown> {
    const tabId = sender.tab?.id;
    if (tabId == null || sender.id !== browser.runtime.id || sender.frameId == null) return { ok: false };
    if (isToHost(msg)) {
      const event = parseAgentEvent(msg.event);
      if (!event || sender.frameId === 0) return { ok: false };
      const out: FromFrameMessage = { type: 'redraft/from-frame', frameId: sender.frameId, event };
      // No content script in the top frame (a page the extension may not run in): the frame shows its own UI.
      return browser.tabs.sendMessage(tabId, out, { frameId: 0 }).then(
        (r: { ok?: boolean } | undefined) => ({ ok: r?.ok === true }),
        () => ({ ok: false }),
      );
    }
    if (isCallFrame(msg)) {
      const call = parseAgentCall(msg.call);
      if (!call || sender.frameId !== 0)
        return { ok: false, message: "Only the tab's own toolbar may edit its frames." };
      const out: AgentCallMessage = { type: 'redraft/agent-call', call };
      return browser.tabs.sendMessage(tabId, out, { frameId: msg.frameId }).then(
        (r: unknown) => r ?? { ok: false, message: 'The frame holding the text did not answer; select it again.' },
        () => ({
          ok: false,
          message: 'The frame holding the text is gone (it navigated or closed); select the text again.',
        }),
      );
    }
    return undefined;
  }

  browser.runtime.onMessage.addListener((msg: unknown, sender, sendResponse) => {
    if (typeof msg !== 'object' || msg === null || typeof (msg as { type?: unknown }).type !== 'string')
      return undefined;
    if (isToHost(msg) || isCallFrame(msg)) {
      void routeFrames(msg, sender).then(sendResponse, (err: unknown) =>
        sendResponse({ ok: false, message: String(err) }),
      );
      return true;
    }
    void handle(msg as BackgroundRequest, sender).then(sendResponse, (err: unknown) =>
      sendResponse({ ok: false, message: String(err) }),
    );
    return true; // respond asynchronously
  });

  // Keyboard shortcut and context menu open the toolbar in the page.
  // The shortcut goes to every frame of the tab (the focused one answers); the context menu to its frame.
  const openToolbar = (tabId: number | undefined, route: ReturnType<typeof openToolbarRoute>) => {
    if (tabId == null || tabId < 0) return;
    const { message, frameId } = route;
    (frameId == null
      ? browser.tabs.sendMessage(tabId, message)
      : browser.tabs.sendMessage(tabId, message, { frameId })
    ).catch(() => {
      // No content script (a browser page, or a tab opened before install/update).
    });
  };
  browser.commands.onCommand.addListener((command, tab) => {
    if (command === OPEN_TOOLBAR_COMMAND) openToolbar(tab?.id, openToolbarRoute({ kind: 'command' }));
  });
  browser.runtime.onInstalled.addListener(() => {
    browser.contextMenus.create(
      { id: MENU_ID, title: 'Rewrite with Redraft', contexts: ['selection', 'editable'] },
      () => void browser.runtime.lastError,
    );
    void browser.alarms.create(BADGE_ALARM, { periodInMinutes: 30 });
  });
  browser.contextMenus.onClicked.addListener((info, tab) => {
    if (info.menuItemId === MENU_ID) openToolbar(tab?.id, openToolbarRoute({ kind: 'menu', frameId: info.frameId }));
  });
  browser.alarms.onAlarm.addListener((alarm) => {
    if (alarm.name === BADGE_ALARM) void refreshBadge();
  });
  browser.runtime.onStartup.addListener(() => void refreshBadge());
});
