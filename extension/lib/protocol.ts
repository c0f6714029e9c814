/**
 * The runtime-port protocol between the content script and the background service worker, and the
 * one-shot runtime messages of the popup, the options page and the content script.
 *
 * The content script never talks to the API and never sees a token: it opens a port named
 * REWRITE_PORT, sends `start` (or `stop`), and receives `chunk`s, then `done` or `error`.
 * The version is part of the port name, so a content script left over from an older build (still
 * injected in an open tab after an update) is refused rather than misunderstood.
 */
import type { SettingsResult } from './api';
import type { HistoryEntry } from './history';
import {
  ACTIONS,
  CONTINUATION_MAX_CHARS,
  INSTRUCTION_MAX_CHARS,
  PLATFORMS,
  REQUEST_ID_PATTERN,
  STYLE_ID_PATTERN,
  TONES,
  type Action,
  type ErrorCode,
  type Platform,
  type RewriteDone,
  type Style,
  type Tone,
  type UsageResponse,
} from '../../shared/contract';

export const PROTOCOL_VERSION = 1;
export const REWRITE_PORT = `redraft/rewrite@${PROTOCOL_VERSION}`;

// content → background
export interface StartMessage {
  type: 'start';
  requestId: string;
  text: string;
  action: Action;
  tone?: Tone;
  platform?: Platform;
  /** What the user asked for in their own words ("make it punchier"); also how a result is refined. */
  instruction?: string;
  /** One of the user's saved styles (brand voice). */
  styleId?: string;
  /** The result so far of a take the length cap cut off: the API writes only what comes next. */
  continuation?: string;
}
export interface StopMessage {
  type: 'stop';
}
export type ClientMessage = StartMessage | StopMessage;

/** Error codes the extension adds to the API's own. */
export type ClientErrorCode = 'network' | 'stream_interrupted' | 'bad_message' | 'bad_response';

// background → content
export interface ChunkMessage {
  type: 'chunk';
  text: string;
}
export interface DoneMessage {
  type: 'done';
  /** True when the user pressed Stop: the text is partial (and was charged only for what was generated). */
  stopped: boolean;
  /** From X-Tokens-Remaining (after this request's reservation; the popup shows the settled figure). */
  tokensRemaining?: number;
  /** `length`: the output cap (or the balance) cut the answer off; it can be continued. Absent when the API did not say. */
  finishReason?: RewriteDone['finishReason'];
}
export interface ErrorMessage {
  type: 'error';
  /** HTTP status, or 0 when the API was not reached / the stream broke. */
  status: number;
  code: ErrorCode | ClientErrorCode;
  message: string;
  retryAfterSeconds?: number;
  periodEnd?: string;
}
export type ServerMessage = ChunkMessage | DoneMessage | ErrorMessage;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const oneOf = <T extends string>(list: readonly T[], v: unknown): v is T =>
  typeof v === 'string' && (list as readonly string[]).includes(v);

/** Longest text a start message may carry; the API refuses more than its own limit (default 20,000) with 413. */
export const MAX_MESSAGE_TEXT = 200_000;

/** Validates a message from a content script (which runs in pages we do not control). */
export function parseClientMessage(raw: unknown): ClientMessage | null {
  if (!isObject(raw)) return null;
  if (raw.type === 'stop') return { type: 'stop' };
  if (raw.type !== 'start') return null;
  const { requestId, text, action, tone, platform, instruction, styleId, continuation } = raw;
  if (typeof requestId !== 'string' || !REQUEST_ID_PATTERN.test(requestId)) return null;
  if (typeof text !== 'string' || text.trim() === '' || text.length > MAX_MESSAGE_TEXT) return null;
  if (!oneOf(ACTIONS, action)) return null;
  if (action === 'tone' ? !oneOf(TONES, tone) : tone !== undefined) return null;
  if (action === 'social_post' ? !oneOf(PLATFORMS, platform) : platform !== undefined) return null;
  let wish: string | undefined;
  if (instruction !== undefined) {
    if (typeof instruction !== 'string') return null;
    wish = instruction.trim();
    if (!wish || [...wish].length > INSTRUCTION_MAX_CHARS) return null;
  }
  if (styleId !== undefined && (typeof styleId !== 'string' || !STYLE_ID_PATTERN.test(styleId))) return null;
  if (
    continuation !== undefined &&
    (typeof continuation !== 'string' || continuation === '' || continuation.length > CONTINUATION_MAX_CHARS)
  )
    return null;
  return {
    type: 'start',
    requestId,
    text,
    action,
    ...(action === 'tone' ? { tone: tone as Tone } : {}),
    ...(action === 'social_post' ? { platform: platform as Platform } : {}),
    ...(wish ? { instruction: wish } : {}),
    ...(typeof styleId === 'string' ? { styleId } : {}),
    ...(typeof continuation === 'string' ? { continuation } : {}),
  };
}

/** A fresh id per run: a retried *delivery* of the same run is idempotent, "Try again" uses a new one. */
export function newRequestId(random: () => string = () => crypto.randomUUID()): string {
  return `rd_${random().replace(/-/g, '')}`.slice(0, 64);
}

// ---- one-shot runtime messages (chrome.runtime.sendMessage) ----

export interface AuthState {
  signedIn: boolean;
  mode: 'dev' | 'clerk' | null;
  userId: string | null;
  apiUrl: string;
  /** "Sign in as a local user" is offered (dev-auth build and a loopback API). */
  devAuthAvailable: boolean;
  clerkEnabled: boolean;
}

/** GET /v1/usage, with its billing block (`canUpgrade` / `canManage` decide the popup's buttons) and alerts. */
export type UsageWithBilling = UsageResponse;

export type UsageResult =
  | { ok: true; usage: UsageWithBilling; fetchedAt: string }
  | { ok: false; status: number; code: string; message: string };

export type BackgroundRequest =
  | { type: 'auth/state' }
  | { type: 'auth/dev-sign-in'; userId: string }
  | { type: 'auth/sign-out' }
  | { type: 'usage/get' }
  | { type: 'billing/open'; kind: 'checkout' | 'portal' }
  | { type: 'settings/set-api-url'; apiUrl: string }
  | { type: 'settings/get' }
  | { type: 'settings/set-overage-cap'; overageCapUsd: number | null }
  | { type: 'history/list' }
  | { type: 'history/clear' }
  | { type: 'ui/open-popup' }
  | { type: 'ui/open-options' }
  /** `fresh`: ask the API now rather than answer from the last few seconds' answer. */
  | { type: 'status/get'; fresh?: boolean }
  | { type: 'styles/list' }
  | { type: 'styles/put'; id: string; name: string; instructions: string }
  | { type: 'styles/delete'; id: string };

export interface BackgroundResponses {
  'auth/state': AuthState;
  'auth/dev-sign-in': { ok: true; state: AuthState } | { ok: false; message: string };
  'auth/sign-out': AuthState;
  'usage/get': UsageResult;
  'billing/open': { ok: true; url: string } | { ok: false; message: string };
  'settings/set-api-url': { ok: true; apiUrl: string } | { ok: false; message: string };
  /** GET /v1/settings (the spending cap); `unsupported` when the API has no such endpoint (404). */
  'settings/get': SettingsResult;
  /** PUT /v1/settings { overageCapUsd } (null = the plan's maximum). */
  'settings/set-overage-cap': SettingsResult;
  /** The rewrites kept on this device (chrome.storage.local only), newest first. */
  'history/list': HistoryEntry[];
  'history/clear': { ok: true };
  'ui/open-popup': { ok: boolean };
  'ui/open-options': { ok: boolean };
  'status/get': UsageResult;
  'styles/list': { ok: true; styles: Style[] } | { ok: false; message: string };
  'styles/put': { ok: true; style: Style } | { ok: false; message: string };
  'styles/delete': { ok: true } | { ok: false; message: string };
}

/** background → content script (tabs.sendMessage): open the toolbar for the current selection. */
export interface OpenToolbarMessage {
  type: 'redraft/open-toolbar';
  /** `focused`: sent to every frame, only the one with the keyboard focus answers (the shortcut). Otherwise
   * the frame it is sent to answers (the context menu names the frame it was opened in). */
  scope?: 'focused' | 'frame';
}
export const isOpenToolbarMessage = (m: unknown): m is OpenToolbarMessage =>
  isObject(m) && m.type === 'redraft/open-toolbar';

/**
 * Where the shortcut and the context menu send "open the toolbar": the shortcut to every frame of the tab
 * (`frameId` null; only the frame holding the keyboard focus answers, whatever its origin), the context
 * menu to the frame it was opened in.
 */
export function openToolbarRoute(source: { kind: 'command' } | { kind: 'menu'; frameId?: number | undefined }): {
  message: OpenToolbarMessage;
  frameId: number | null;
} {
  if (source.kind === 'command') return { message: { type: 'redraft/open-toolbar', scope: 'focused' }, frameId: null };
  return { message: { type: 'redraft/open-toolbar', scope: 'frame' }, frameId: source.frameId ?? 0 };
}
