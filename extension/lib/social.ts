/**
 * Social posts that fit where they go: the platform a site implies (a LinkedIn page → LinkedIn), and a
 * post's length counted the way the platform counts it against its limit (shared/contract.ts). Pure.
 *
 * X counts by weight (its twitter-text rules): most Latin, Greek, Cyrillic and common punctuation count 1,
 * other characters (CJK, most emoji) count 2, and every link counts 23 whatever its length. The other
 * platforms count characters as the reader sees them (an emoji sequence is one).
 */
import { PLATFORM_CHAR_LIMITS, type Platform } from '../../shared/contract';

const SITE_PLATFORMS: [RegExp, Platform][] = [
  [/(^|\.)linkedin\.com$/, 'linkedin'],
  [/(^|\.)(x|twitter)\.com$/, 'x'],
  [/(^|\.)instagram\.com$/, 'instagram'],
  [/(^|\.)(facebook|fb)\.com$/, 'facebook'],
];

/** The platform a site is (its host name, `www.` or not), or null for every other site. */
export function platformForSite(site: string | null): Platform | null {
  if (!site) return null;
  const host = site.toLowerCase().replace(/^www\./, '');
  return SITE_PLATFORMS.find(([re]) => re.test(host))?.[1] ?? null;
}

/** Code point ranges X weighs 1 (twitter-text v3 config); everything else weighs 2. */
const LIGHT: [number, number][] = [
  [0, 4351],
  [8192, 8205],
  [8208, 8223],
  [8242, 8247],
];
const URL = /\bhttps?:\/\/[^\s]+|\b(?:[a-z0-9-]+\.)+(?:com|org|net|io|co|ai|app|dev|me|ly|gl)(?:\/[^\s]*)?/gi;
const X_URL_WEIGHT = 23;

const graphemes = (s: string): string[] => {
  const Seg = (Intl as { Segmenter?: typeof Intl.Segmenter }).Segmenter;
  return Seg ? [...new Seg('en', { granularity: 'grapheme' }).segment(s)].map((g) => g.segment) : [...s];
};

function xWeight(text: string): number {
  let links = 0;
  const rest = text.replace(URL, () => {
    links++;
    return '';
  });
  let weight = links * X_URL_WEIGHT;
  for (const g of graphemes(rest)) {
    if (/\p{Extended_Pictographic}/u.test(g)) {
      weight += 2; // an emoji (a sequence too) counts as two
      continue;
    }
    for (const ch of g) {
      const cp = ch.codePointAt(0)!;
      weight += LIGHT.some(([lo, hi]) => cp >= lo && cp <= hi) ? 1 : 2;
    }
  }
  return weight;
}

export interface PostLength {
  count: number;
  limit: number;
  over: boolean;
}

/** The post's length as the platform counts it, against the platform's limit. */
export function postLength(text: string, platform: Platform): PostLength {
  const count = platform === 'x' ? xWeight(text.trim()) : graphemes(text.trim()).length;
  const limit = PLATFORM_CHAR_LIMITS[platform];
  return { count, limit, over: count > limit };
}
