/**
 * The user's in-page preferences, kept in `chrome.storage.local` under one key and read by every frame's
 * content script: whether selecting plain page text (not a field) shows Redraft, and the sites where it stays
 * out of the way. The shortcut and the context menu always work, whatever these say.
 *
 * Pure (validation, site names); the storage area is injected.
 */
export const SETTINGS_KEY = 'redraft:settings';
/** The last style chosen in the toolbar (its id; '' for none). */
export const LAST_STYLE_KEY = 'redraft:last-style';
/** Set by the options page when the saved styles change, so open toolbars reload them. */
export const STYLES_CHANGED_KEY = 'redraft:styles-changed';

export interface InPageSettings {
  /** Show the Redraft button for selections in non-editable page text too (default: only in fields). */
  pageText: boolean;
  /** Hostnames where selections show nothing (the shortcut and context menu still work). */
  disabledSites: string[];
}

export const DEFAULT_SETTINGS: InPageSettings = { pageText: false, disabledSites: [] };
const MAX_SITES = 500;

/** What storage holds, made safe: unknown fields dropped, bad values replaced by defaults. */
export function parseSettings(raw: unknown): InPageSettings {
  if (typeof raw !== 'object' || raw === null) return { ...DEFAULT_SETTINGS, disabledSites: [] };
  const r = raw as Record<string, unknown>;
  const sites = Array.isArray(r.disabledSites)
    ? r.disabledSites.filter((s): s is string => typeof s === 'string' && siteName(s) === s)
    : [];
  return { pageText: r.pageText === true, disabledSites: [...new Set(sites)].slice(0, MAX_SITES) };
}

/** The site a page belongs to, as the user sees it: its hostname without `www.` (null for non-web pages). */
export function siteName(urlOrHost: string): string | null {
  let host = urlOrHost.trim().toLowerCase();
  try {
    if (host.includes('/')) {
      const u = new URL(host);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
      host = u.hostname;
    }
  } catch {
    return null;
  }
  host = host.replace(/^www\./, '').replace(/\.$/, '');
  return /^[a-z0-9.-]+$|^\[[0-9a-f:]+\]$/.test(host) && host.length <= 253 ? host : null;
}

export const isSiteDisabled = (s: InPageSettings, site: string | null): boolean =>
  site !== null && s.disabledSites.includes(site);

export const withSite = (s: InPageSettings, site: string, disabled: boolean): InPageSettings => ({
  ...s,
  disabledSites: disabled
    ? [...new Set([...s.disabledSites, site])].slice(0, MAX_SITES)
    : s.disabledSites.filter((x) => x !== site),
});

export interface SettingsArea {
  get(): Promise<unknown>;
  set(value: InPageSettings): Promise<void>;
}

export async function updateSettings(
  area: SettingsArea,
  change: (s: InPageSettings) => InPageSettings,
): Promise<InPageSettings> {
  const next = change(parseSettings(await area.get()));
  await area.set(next);
  return next;
}

/**
 * Whether a passive selection (mouse or keyboard, not the shortcut) offers Redraft: never on a disabled site,
 * on page text only when the user turned that on, and never for a double-clicked single word (people
 * double-click words to read, look up or copy them).
 */
export function offersOnSelection(
  s: InPageSettings,
  sel: { site: string | null; editable: boolean; text: string; doubleClick: boolean },
): boolean {
  if (isSiteDisabled(s, sel.site)) return false;
  if (!sel.editable && !s.pageText) return false;
  if (sel.doubleClick && !/\s/.test(sel.text.trim())) return false;
  return true;
}
