/**
 * The Redraft Chrome MV3 extension (WXT + React). Sources live in extension/ (WXT srcDir).
 *
 * Build-time environment (all public; nothing secret may be baked into the bundle):
 *   REDRAFT_API_URL                default http://127.0.0.1:8787 (the options page can change it at runtime)
 *   REDRAFT_CLERK_PUBLISHABLE_KEY  optional; without it only the local dev sign-in exists
 *   REDRAFT_CLERK_SYNC_HOST        optional; the web app origin whose Clerk session the extension shares
 *   REDRAFT_DEV_AUTH               0/1; default 1 when the API URL is on this machine
 *   REDRAFT_EXTENSION_KEY          optional manifest `key` (base64 public key) for a stable extension id
 *   REDRAFT_OUT_DIR                optional output root (default .output)
 */
import { defineConfig } from 'wxt';
import { manifestFor, resolveBuildConfig } from './extension/lib/build-config';

const build = resolveBuildConfig(process.env);

/**
 * `@clerk/chrome-extension/client` lazily imports Clerk's UI for popup use; the service worker (an IIFE, where
 * lazy imports are inlined) never renders UI, so it gets an empty stand-in instead of ~2 MB of components.
 */
const noClerkUiInWorker = {
  name: 'redraft:no-clerk-ui-in-service-worker',
  enforce: 'pre' as const,
  resolveId: (id: string) => (id === '@clerk/ui/no-rhc' ? '\0redraft-clerk-ui-stub' : null),
  load: (id: string) => (id === '\0redraft-clerk-ui-stub' ? 'export const ui = undefined;' : null),
};

export default defineConfig({
  srcDir: 'extension',
  entrypointsDir: 'entrypoints',
  publicDir: 'extension/public',
  outDir: process.env.REDRAFT_OUT_DIR || '.output',
  modules: ['@wxt-dev/module-react'],
  imports: false,
  manifestVersion: 3,
  manifest: manifestFor(build),
  hooks: {
    'vite:build:extendConfig': (entrypoints, viteConfig) => {
      if (entrypoints.some((e) => e.type === 'background'))
        viteConfig.plugins = [...(viteConfig.plugins ?? []), noClerkUiInWorker];
    },
  },
  vite: () => ({
    build: {
      rolldownOptions: {
        // shared/contract.ts builds zod schemas at module level; the extension's pages and scripts use only
        // its constants. Schema construction is pure, so unused schemas (and zod) drop out of the bundles.
        treeshake: { manualPureFunctions: ['z'] },
      },
    },
    define: {
      __REDRAFT_BUILD__: JSON.stringify(build),
      // A separate literal so bundlers drop Clerk entirely from builds without a publishable key.
      __REDRAFT_CLERK__: JSON.stringify(Boolean(build.clerkPublishableKey)),
    },
  }),
});
