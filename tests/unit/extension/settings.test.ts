import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SETTINGS,
  offersOnSelection,
  parseSettings,
  siteName,
  updateSettings,
  withSite,
  type InPageSettings,
} from '../../../extension/lib/settings';

describe('in-page settings', () => {
  it('parses what storage holds, dropping junk', () => {
    expect(parseSettings(undefined)).toEqual(DEFAULT_SETTINGS);
    expect(
      parseSettings({
        pageText: 'yes',
        disabledSites: ['example.com', 42, 'https://x.com/', 'ok.org', 'example.com'],
        extra: 1,
      }),
    ).toEqual({ pageText: false, disabledSites: ['example.com', 'ok.org'] });
    expect(parseSettings({ pageText: true, disabledSites: 'a.com' })).toEqual({ pageText: true, disabledSites: [] });
  });

  it('site names: the hostname without www., only for web pages', () => {
    expect(siteName('https://www.LinkedIn.com/feed/')).toBe('linkedin.com');
    expect(siteName('http://127.0.0.1:8080/x')).toBe('127.0.0.1');
    expect(siteName('mail.google.com')).toBe('mail.google.com');
    expect(siteName('chrome-extension://abc/popup.html')).toBeNull();
    expect(siteName('about:blank')).toBeNull();
    expect(siteName('not a host')).toBeNull();
  });

  it('turning a site off and on', async () => {
    let stored: unknown;
    const area = { get: async () => stored, set: async (v: InPageSettings) => void (stored = v) };
    await updateSettings(area, (s) => withSite(s, 'example.com', true));
    await updateSettings(area, (s) => withSite(s, 'example.com', true));
    expect(parseSettings(stored).disabledSites).toEqual(['example.com']);
    await updateSettings(area, (s) => withSite(s, 'example.com', false));
    expect(parseSettings(stored).disabledSites).toEqual([]);
  });

  it('a passive selection offers Redraft in fields; on page text only when turned on; never for a double-clicked word or on a site turned off', () => {
    const s = DEFAULT_SETTINGS;
    const sel = { site: 'example.com', editable: true, text: 'Our shoes are good.', doubleClick: false };
    expect(offersOnSelection(s, sel)).toBe(true);
    expect(offersOnSelection(s, { ...sel, editable: false })).toBe(false);
    expect(offersOnSelection({ ...s, pageText: true }, { ...sel, editable: false })).toBe(true);
    expect(offersOnSelection(s, { ...sel, text: 'shoes', doubleClick: true })).toBe(false);
    expect(offersOnSelection(s, { ...sel, text: 'two words', doubleClick: true })).toBe(true);
    expect(offersOnSelection(withSite(s, 'example.com', true), sel)).toBe(false);
  });
});
