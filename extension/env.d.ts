/** Values baked in at build time by wxt.config.ts (vite `define`). */
declare const __REDRAFT_BUILD__: import('./lib/build-config').BuildConfig;
declare const __REDRAFT_CLERK__: boolean;
