/**
 * The background side of the rewrite port: receives `start`/`stop` from a content script, calls
 * POST /v1/rewrite with the session token (which never leaves the service worker), and forwards the
 * streamed text as `chunk`s, then `done` or `error`. A `stop` or a port disconnect (panel closed, tab
 * navigated or closed) aborts the fetch, so the API stops the model and charges only what was made.
 *
 * I/O is injected (fetch, token, API URL), so the relay is unit-tested with a real streaming Response.
 */
import { HEADERS, REWRITE_EVENTS_TYPE, type ErrorBody, type RewriteDone } from '../../shared/contract';
import { rewriteEventParser } from './sse';
import { parseClientMessage, type ErrorMessage, type ServerMessage, type StartMessage } from './protocol';
import type { CompletedRewrite } from './history';

/** The subset of chrome.runtime.Port the relay uses. */
export interface RelayPort {
  postMessage(message: ServerMessage): void;
  onMessage: { addListener(fn: (message: unknown) => void): void };
  onDisconnect: { addListener(fn: () => void): void };
}

export interface RelayDeps {
  fetch: typeof fetch;
  apiUrl(): Promise<string>;
  /** The session token, or null when signed out. `fresh` asks for a newly minted one (after a 401). */
  getToken(fresh?: boolean): Promise<string | null>;
  /** Called after a request reached the API (completed, stopped or failed), e.g. to refresh the badge. */
  afterRequest?(): void;
  /** Called once a stream completed (`done`, not stopped, not an error) with its input and whole result: the popup's recent list. */
  onComplete?(rewrite: CompletedRewrite): void | Promise<void>;
}

export function serveRewritePort(port: RelayPort, deps: RelayDeps): void {
  let current: { abort: AbortController; stopped: boolean } | null = null;
  let connected = true;

  const post = (m: ServerMessage) => {
    if (!connected) return;
    try {
      port.postMessage(m);
    } catch {
      connected = false; // the other side went away between our check and the post
    }
  };

  port.onDisconnect.addListener(() => {
    connected = false;
    current?.abort.abort(new DOMException('The panel was closed', 'AbortError'));
    current = null;
  });

  port.onMessage.addListener((raw) => {
    const msg = parseClientMessage(raw);
    if (!msg) {
      post({
        type: 'error',
        status: 400,
        code: 'bad_message',
        message: 'The extension sent a message the background did not understand. Reload the page and try again.',
      });
      return;
    }
    if (msg.type === 'stop') {
      if (!current) return;
      current.stopped = true;
      current.abort.abort(new DOMException('Stopped by the user', 'AbortError'));
      return;
    }
    current?.abort.abort(new DOMException('Superseded by a new request', 'AbortError'));
    const run = { abort: new AbortController(), stopped: false };
    current = run;
    void rewrite(msg, run, deps, (m) => {
      if (current === run) post(m);
    }).finally(() => {
      if (current === run) current = null;
    });
  });
}

async function rewrite(
  msg: StartMessage,
  run: { abort: AbortController; stopped: boolean },
  deps: RelayDeps,
  post: (m: ServerMessage) => void,
): Promise<void> {
  const signal = run.abort.signal;
  const body = JSON.stringify({
    text: msg.text,
    action: msg.action,
    requestId: msg.requestId,
    ...(msg.tone ? { tone: msg.tone } : {}),
    ...(msg.platform ? { platform: msg.platform } : {}),
    ...(msg.instruction ? { instruction: msg.instruction } : {}),
    ...(msg.styleId ? { styleId: msg.styleId } : {}),
    ...(msg.continuation ? { continuation: msg.continuation } : {}),
  });
  let apiUrl = '';
  let reached = false;
  try {
    apiUrl = await deps.apiUrl();
    let token = await deps.getToken();
    if (!token) {
      post({ type: 'error', status: 401, code: 'unauthenticated', message: 'Not signed in.' });
      return;
    }
    let res: Response | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      res = await deps.fetch(`${apiUrl}/v1/rewrite`, {
        method: 'POST',
        // Events say how the answer finished (cut by the length cap or whole); plain text from an older API still works.
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
          Accept: `${REWRITE_EVENTS_TYPE}, text/plain;q=0.5`,
        },
        body,
        signal,
      });
      reached = true;
      // A 401 happens before any reservation: retry once with a freshly minted token (same requestId).
      if (res.status !== 401 || attempt > 0) break;
      const fresh = await deps.getToken(true);
      if (!fresh || fresh === token) break;
      await res.body?.cancel().catch(() => {});
      token = fresh;
    }
    if (!res!.ok) {
      post(await errorFromResponse(res!));
      return;
    }
    const remaining = Number(res!.headers.get(HEADERS.tokensRemaining));
    if (!res!.body) {
      post({ type: 'error', status: 502, code: 'bad_response', message: 'The API answered without a body.' });
      return;
    }
    const reader = res!.body.getReader();
    // Cancel the body ourselves on abort: the API sees the disconnect and stops the model (whatever fetch does).
    const cancel = () => void reader.cancel(signal.reason).catch(() => {});
    signal.addEventListener('abort', cancel, { once: true });
    const decoder = new TextDecoder();
    const events = (res!.headers.get('Content-Type') ?? '').startsWith(REWRITE_EVENTS_TYPE)
      ? rewriteEventParser()
      : null;
    let result = '';
    let finished: RewriteDone | null = null;
    let broken: string | null = null;
    // Plain text is the text; events carry pieces and, last, how it finished.
    const take = (decoded: string) => {
      if (!events) {
        if (decoded) {
          result += decoded;
          post({ type: 'chunk', text: decoded });
        }
        return;
      }
      for (const e of events.push(decoded)) {
        if (e.type === 'text' && e.text && !finished) {
          result += e.text;
          post({ type: 'chunk', text: e.text });
        } else if (e.type === 'done') finished = e.done;
        else if (e.type === 'bad') broken ??= e.reason;
      }
    };
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || signal.aborted) break;
        take(decoder.decode(value, { stream: true }));
      }
    } catch (err) {
      if (!signal.aborted) {
        post({
          type: 'error',
          status: 0,
          code: 'stream_interrupted',
          message: `The stream was cut off: ${describe(err)}`,
        });
        return;
      }
    } finally {
      signal.removeEventListener('abort', cancel);
    }
    if (signal.aborted) {
      if (run.stopped) post({ type: 'done', stopped: true });
      return;
    }
    take(decoder.decode());
    // An event stream that ends without its `done` was cut off on the way: never shown as a whole answer.
    if (events && (!finished || broken)) {
      post({
        type: 'error',
        status: 0,
        code: 'stream_interrupted',
        message: broken
          ? `The API sent a stream this extension could not read (${broken}).`
          : 'The stream ended before the API said it was complete.',
      });
      return;
    }
    const end = finished as RewriteDone | null;
    post({
      type: 'done',
      stopped: false,
      ...(Number.isFinite(remaining) && res!.headers.has(HEADERS.tokensRemaining)
        ? { tokensRemaining: remaining }
        : {}),
      ...(end ? { finishReason: end.finishReason } : {}),
    });
    // A continuation's stream is only what came next: the recent list keeps the whole answer.
    record(deps, msg, (msg.continuation ?? '') + result);
  } catch (err) {
    if (signal.aborted) {
      if (run.stopped) post({ type: 'done', stopped: true });
      return;
    }
    post({
      type: 'error',
      status: 0,
      code: 'network',
      message: `Could not reach the Redraft API at ${apiUrl || 'its address'}: ${describe(err)}`,
    });
  } finally {
    if (reached) deps.afterRequest?.();
  }
}

/** Hands a completed rewrite to `onComplete`; a failure there never reaches the stream. */
function record(deps: RelayDeps, msg: StartMessage, result: string): void {
  if (!deps.onComplete) return;
  try {
    void Promise.resolve(
      deps.onComplete({
        requestId: msg.requestId,
        action: msg.action,
        ...(msg.tone ? { tone: msg.tone } : {}),
        ...(msg.platform ? { platform: msg.platform } : {}),
        text: msg.text,
        result,
      }),
    ).catch(() => {});
  } catch {
    // ignore: the recent list is a convenience
  }
}

/** The API's JSON error body (`{ error: { code, message, … } }`) as a port message; anything else as bad_response. */
export async function errorFromResponse(res: Response): Promise<ErrorMessage> {
  const retryHeader = Number(res.headers.get('Retry-After'));
  let parsed: ErrorBody | null = null;
  try {
    parsed = (await res.json()) as ErrorBody;
  } catch {
    parsed = null;
  }
  const e =
    parsed && typeof parsed === 'object' && parsed.error && typeof parsed.error.code === 'string' ? parsed.error : null;
  if (!e)
    return {
      type: 'error',
      status: res.status,
      code: 'bad_response',
      message: `The API answered ${res.status} ${res.statusText}`.trim(),
    };
  const retryAfterSeconds =
    typeof e.retryAfterSeconds === 'number'
      ? e.retryAfterSeconds
      : Number.isFinite(retryHeader) && retryHeader > 0
        ? retryHeader
        : undefined;
  return {
    type: 'error',
    status: res.status,
    code: e.code,
    message: String(e.message ?? ''),
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    ...(typeof e.periodEnd === 'string' ? { periodEnd: e.periodEnd } : {}),
  };
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
