/**
 * One rewrite's stream from the background: opens the rewrite port, sends `start`, hands every message on,
 * and says when the port was lost mid-stream (the extension restarted). The content script never sees a
 * token or the API: the background relays (lib/relay.ts).
 *
 * Depends on: a `connect` function (chrome.runtime.connect in the page, a fake in tests).
 */
import { REWRITE_PORT, type ServerMessage, type StartMessage } from '../../lib/protocol';

export interface PortLike {
  postMessage(m: unknown): void;
  disconnect(): void;
  onMessage: { addListener(fn: (m: ServerMessage) => void): void };
  onDisconnect: { addListener(fn: () => void): void };
}

export interface RewriteStream {
  /** Stop the model: the stream ends with `done` (stopped), charged for what was made. */
  stop(): void;
  /** Forget this stream (closing the port aborts the request). */
  close(): void;
}

export function openRewrite(
  msg: StartMessage,
  on: { message(m: ServerMessage): void; lost(): void },
  connect: (name: string) => PortLike,
): RewriteStream | null {
  let port: PortLike | null;
  try {
    port = connect(REWRITE_PORT);
  } catch {
    return null; // the extension was reloaded: this content script is orphaned
  }
  const p = port;
  p.onMessage.addListener((m) => {
    if (port !== p) return;
    if (m.type !== 'chunk') port = null; // done or error: this stream is over
    on.message(m);
    if (!port) disconnect(p);
  });
  p.onDisconnect.addListener(() => {
    if (port !== p) return;
    port = null;
    on.lost();
  });
  p.postMessage(msg);
  return {
    stop: () => port?.postMessage({ type: 'stop' }),
    close: () => {
      const q = port;
      port = null;
      if (q) disconnect(q);
    },
  };
}

function disconnect(p: PortLike) {
  try {
    p.disconnect();
  } catch {
    /* already gone */
  }
}
