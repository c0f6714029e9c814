/**
 * Where a frame's viewport sits in the top frame's viewport, so the toolbar lands next to a selection made
 * inside (nested, cross-origin) frames. A frame posts a nonce to its parent; each parent adds the position
 * of the iframe element the message came from and passes it up; the top frame keeps the sum.
 *
 * Depends on: window.postMessage and the frame elements of this document.
 */
import type { ContentScriptContext } from 'wxt/utils/content-script-context';
import { parseGeometry, type GeometryMessage } from '../lib/frames';

export interface Offset {
  x: number;
  y: number;
}

export class FrameGeometry {
  private readonly known = new Map<string, Offset>();
  private readonly waiting = new Map<string, (o: Offset) => void>();

  constructor(private readonly win: Window = window) {}

  listen(ctx: ContentScriptContext): void {
    ctx.addEventListener(this.win, 'message', (e: MessageEvent) => this.onMessage(e));
  }

  /** Starts the relay for a report made in this frame. */
  announce(nonce: string): void {
    if (this.win.parent === this.win) return;
    const msg: GeometryMessage = { redraftGeometry: 1, nonce, x: 0, y: 0 };
    this.win.parent.postMessage(msg, '*');
  }

  /** The offset of the frame that announced `nonce`, or null when none arrives in time. */
  offsetOf(nonce: string, timeoutMs = 400): Promise<Offset | null> {
    const hit = this.known.get(nonce);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(nonce);
        resolve(null);
      }, timeoutMs);
      this.waiting.set(nonce, (o) => {
        clearTimeout(timer);
        resolve(o);
      });
    });
  }

  private onMessage(e: MessageEvent) {
    const g = parseGeometry(e.data);
    if (!g || !e.source) return;
    const frame = this.frameOf(e.source as Window);
    if (!frame) return; // not from one of our child frames (a page script posting to itself)
    const box = frame.getBoundingClientRect();
    const style = this.win.getComputedStyle(frame);
    const x = g.x + box.left + frame.clientLeft + (parseFloat(style.paddingLeft) || 0);
    const y = g.y + box.top + frame.clientTop + (parseFloat(style.paddingTop) || 0);
    if (this.win.parent !== this.win) {
      this.win.parent.postMessage({ ...g, x, y } satisfies GeometryMessage, '*');
      return;
    }
    const offset = { x, y };
    this.known.set(g.nonce, offset);
    if (this.known.size > 32) this.known.delete(this.known.keys().next().value!);
    this.waiting.get(g.nonce)?.(offset);
    this.waiting.delete(g.nonce);
  }

  private frameOf(source: Window): HTMLIFrameElement | HTMLFrameElement | null {
    for (const f of this.win.document.querySelectorAll<HTMLIFrameElement | HTMLFrameElement>('iframe, frame')) {
      if (f.contentWindow === source) return f;
    }
    return null;
  }
}
