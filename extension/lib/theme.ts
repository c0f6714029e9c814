/**
 * Whether the text a user selected sits on a dark background, so the toolbar and panel can be dark there
 * too (they are also dark whenever the system prefers dark). Pure: colours in, a verdict out.
 */

/** `rgb(…)` / `rgba(…)` as computed styles give them; null for anything else. */
export function parseRgb(css: string): { r: number; g: number; b: number; a: number } | null {
  const m = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:[\s,/]+([\d.]+%?))?\s*\)$/.exec(css.trim());
  if (!m) return null;
  const alpha = m[4] === undefined ? 1 : m[4].endsWith('%') ? Number(m[4].slice(0, -1)) / 100 : Number(m[4]);
  return { r: Number(m[1]), g: Number(m[2]), b: Number(m[3]), a: alpha };
}

/** WCAG relative luminance of an sRGB colour (0 black … 1 white). */
export function luminance({ r, g, b }: { r: number; g: number; b: number }): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/**
 * The first opaque-enough background from the element outwards decides; a page with no background at all
 * is the browser's canvas (white, unless the page asked for a dark colour scheme).
 */
export function backgroundIsDark(backgrounds: readonly string[], colorScheme = ''): boolean {
  for (const bg of backgrounds) {
    const c = parseRgb(bg);
    if (c && c.a >= 0.5) return luminance(c) < 0.2;
  }
  return /^dark\b/.test(colorScheme.trim());
}

/** The computed backgrounds from `el` up to the root element. */
export function backgroundsFrom(el: Element | null): string[] {
  const out: string[] = [];
  for (let e: Element | null = el; e; e = e.parentElement) out.push(getComputedStyle(e).backgroundColor);
  return out;
}
