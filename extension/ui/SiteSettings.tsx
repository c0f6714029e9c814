/** Options: where Redraft shows itself in pages (page text on or off, the sites it is turned off on). */
import { useEffect, useState } from 'react';
import { browser } from 'wxt/browser';
import { parseSettings, SETTINGS_KEY, updateSettings, withSite, type InPageSettings } from '../lib/settings';

const area = {
  get: async () => (await browser.storage.local.get(SETTINGS_KEY))[SETTINGS_KEY],
  set: (v: InPageSettings) => browser.storage.local.set({ [SETTINGS_KEY]: v }),
};

export function SiteSettings() {
  const [settings, setSettings] = useState<InPageSettings | null>(null);
  useEffect(() => {
    void area.get().then((raw) => setSettings(parseSettings(raw)));
    const onChange = (changes: Record<string, { newValue?: unknown }>, name: string) => {
      if (name === 'local' && changes[SETTINGS_KEY]) setSettings(parseSettings(changes[SETTINGS_KEY].newValue));
    };
    browser.storage.onChanged.addListener(onChange);
    return () => browser.storage.onChanged.removeListener(onChange);
  }, []);
  const change = async (fn: (s: InPageSettings) => InPageSettings) => setSettings(await updateSettings(area, fn));

  if (!settings) return null;
  return (
    <section className="field" data-testid="site-settings">
      <h2>In pages</h2>
      <label className="check">
        <input
          type="checkbox"
          checked={settings.pageText}
          onChange={(e) => void change((s) => ({ ...s, pageText: e.target.checked }))}
        />
        Also offer Redraft when I select text I cannot edit (articles, pages you read)
      </label>
      <p className="muted small">
        In text fields and editors a selection shows a small Redraft button. Alt+Shift+R and the right-click menu work
        everywhere, also on the sites below.
      </p>
      <h3>Turned off on</h3>
      {settings.disabledSites.length === 0 ? (
        <p className="muted small">No sites. Use “Off on this site” in Redraft's toolbar to add one.</p>
      ) : (
        <ul className="sites" aria-label="Sites Redraft is turned off on">
          {settings.disabledSites.map((site) => (
            <li key={site}>
              <span>{site}</span>{' '}
              <button
                type="button"
                className="link"
                aria-label={`Turn Redraft back on for ${site}`}
                onClick={() => void change((s) => withSite(s, site, false))}
              >
                Turn back on
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
