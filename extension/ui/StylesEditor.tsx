/** Options: the user's saved styles (brand voice), kept by the API per user; chosen in the in-page toolbar. */
import { useEffect, useState, type FormEvent } from 'react';
import { browser } from 'wxt/browser';
import { send } from './send';
import { STYLES_CHANGED_KEY } from '../lib/settings';
import { STYLE_INSTRUCTIONS_MAX_CHARS, STYLE_NAME_MAX_CHARS, STYLES_MAX, type Style } from '../../shared/contract';

/** A style id from its name: lower-case letters, digits and dashes (the API's id pattern). */
export function styleIdFor(name: string, taken: readonly string[]): string {
  const base =
    name
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 32) || 'style';
  let id = base;
  for (let n = 2; taken.includes(id); n++) id = `${base}-${n}`;
  return id;
}

/** Tells open pages' toolbars to reload the styles (they cache them for a while). */
const changed = () => browser.storage.local.set({ [STYLES_CHANGED_KEY]: Date.now() }).catch(() => {});

export function StylesEditor({ signedIn }: { signedIn: boolean }) {
  const [styles, setStyles] = useState<Style[] | null>(null);
  const [editing, setEditing] = useState<{ id: string | null; name: string; instructions: string }>({
    id: null,
    name: '',
    instructions: '',
  });
  const [status, setStatus] = useState<string | null>(null);

  const load = async () => {
    const r = await send({ type: 'styles/list' });
    if (r.ok) setStyles(r.styles);
    else setStatus(r.message);
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: load once signed in (load reads the background, no state)
  useEffect(() => {
    if (signedIn) void load();
  }, [signedIn]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setStatus(null);
    const id =
      editing.id ??
      styleIdFor(
        editing.name,
        (styles ?? []).map((s) => s.id),
      );
    const r = await send({
      type: 'styles/put',
      id,
      name: editing.name.trim(),
      instructions: editing.instructions.trim(),
    });
    if (!r.ok) return setStatus(r.message);
    setEditing({ id: null, name: '', instructions: '' });
    setStatus(`Saved “${r.style.name}”.`);
    await changed();
    await load();
  };
  const remove = async (s: Style) => {
    const r = await send({ type: 'styles/delete', id: s.id });
    setStatus(r.ok ? `Deleted “${s.name}”.` : r.message);
    await changed();
    await load();
  };

  if (!signedIn) return null;
  return (
    <section className="field" data-testid="styles">
      <h2>Styles (brand voice)</h2>
      <p className="muted small">
        Saved instructions Redraft follows when you pick the style in the toolbar, e.g. “Warm, concise, no jargon; we
        say customers, never users.” Up to {STYLES_MAX}.
      </p>
      {styles && styles.length > 0 && (
        <ul className="sites" aria-label="Your styles">
          {styles.map((s) => (
            <li key={s.id}>
              <strong>{s.name}</strong>{' '}
              <span className="muted small">
                {s.instructions.length > 80 ? `${s.instructions.slice(0, 79)}…` : s.instructions}
              </span>{' '}
              <button
                type="button"
                className="link"
                onClick={() => setEditing({ id: s.id, name: s.name, instructions: s.instructions })}
                aria-label={`Edit ${s.name}`}
              >
                Edit
              </button>{' '}
              <button type="button" className="link" onClick={() => void remove(s)} aria-label={`Delete ${s.name}`}>
                Delete
              </button>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={save} className="field">
        <label htmlFor="style-name">{editing.id ? 'Edit style' : 'New style'}: name</label>
        <input
          id="style-name"
          value={editing.name}
          maxLength={STYLE_NAME_MAX_CHARS}
          required
          onChange={(e) => setEditing({ ...editing, name: e.target.value })}
        />
        <label htmlFor="style-instructions">Instructions</label>
        <textarea
          id="style-instructions"
          rows={3}
          value={editing.instructions}
          maxLength={STYLE_INSTRUCTIONS_MAX_CHARS}
          required
          onChange={(e) => setEditing({ ...editing, instructions: e.target.value })}
        />
        <div className="row">
          <button type="submit" className="primary">
            Save style
          </button>
          {editing.id && (
            <button type="button" onClick={() => setEditing({ id: null, name: '', instructions: '' })}>
              Cancel
            </button>
          )}
        </div>
        {status && (
          <p className="muted small" role="status" data-testid="styles-status">
            {status}
          </p>
        )}
      </form>
    </section>
  );
}
