/** Typed one-shot messages from extension pages (popup, options) to the background. */
import { browser } from 'wxt/browser';
import type { BackgroundRequest, BackgroundResponses } from '../lib/protocol';

export function send<T extends BackgroundRequest>(msg: T): Promise<BackgroundResponses[T['type']]> {
  return browser.runtime.sendMessage(msg) as Promise<BackgroundResponses[T['type']]>;
}
