/**
 * `wxt prepare` generates typed extension paths under .wxt/ (git-ignored). So that `tsc --noEmit` works on a
 * fresh checkout without that step, runtime.getURL accepts any path here.
 */
import 'wxt/browser';

declare module 'wxt/browser' {
  interface WxtRuntime {
    getURL(path: string): string;
  }
}
