/**
 * The client's cheap estimate against the server's real o200k count (gpt-tokenizer, server-side only).
 */
import { describe, expect, it } from 'vitest';
import { estimateTokens } from '../../../extension/lib/estimate';
import { buildMessages } from '../../../shared/prompts';
import { outputTokenCap } from '../../../shared/actions';
import { countChatTokens } from '../../../api/model/estimate';
import type { RewriteRequest } from '../../../shared/contract';

const SAMPLES = [
  'Our shoes are good and you should buy them.',
  'Introducing the all-new TrailRunner 3: lighter, faster and built for every terrain. Free shipping on orders over $50 this week only!',
  'Our spring collection brings bright colours, breathable fabrics and relaxed fits to your wardrobe. Each piece is made from organic cotton in small batches, so it feels good to wear and good to buy. Shop the full range online or visit one of our twelve stores.',
  `Meet Lumen, the desk lamp that adapts to your day. In the morning it wakes you gently with a warm sunrise glow; by
noon it switches to a crisp, neutral white that keeps you focused through back-to-back meetings. When evening comes,
Lumen dims itself and shifts to amber tones that help you wind down. The aluminium arm folds flat for travel, the base
charges your phone wirelessly, and the touch dial remembers your three favourite settings. Designed in Copenhagen and
assembled in Portugal, every lamp ships in recycled packaging with a five-year warranty. Order before Sunday and get the
matching wall mount free, or bundle two lamps and save 20%. Questions? Our lighting experts answer within an hour, seven
days a week, by chat or email.`,
];

const requests = (text: string): RewriteRequest[] => [
  { text, action: 'rewrite' },
  { text, action: 'shorten' },
  { text, action: 'expand' },
  { text, action: 'tone', tone: 'persuasive' },
  { text, action: 'product_description' },
  { text, action: 'social_post', platform: 'x' },
  { text, action: 'social_post', platform: 'linkedin' },
];

describe('client token estimate', () => {
  it('input tokens are within 15% of the server count for English marketing copy', () => {
    for (const text of SAMPLES) {
      for (const r of requests(text)) {
        const real = countChatTokens(buildMessages(r));
        const est = estimateTokens(r).inputTokens;
        expect(
          Math.abs(est - real) / real,
          `${r.action} on ${text.length} chars: est ${est}, real ${real}`,
        ).toBeLessThan(0.15);
      }
    }
  });

  it('the maximum is the server reservation (input + the same output cap) within the input error', () => {
    for (const text of SAMPLES) {
      for (const r of requests(text)) {
        const real = countChatTokens(buildMessages(r));
        const want = real + outputTokenCap(r, real);
        const est = estimateTokens(r);
        expect(Math.abs(est.maxTokens - want) / want).toBeLessThan(0.15);
        expect(est.likelyTokens).toBeGreaterThan(est.inputTokens);
        expect(est.likelyTokens).toBeLessThanOrEqual(est.maxTokens);
      }
    }
  });

  it('does not underestimate text in other scripts (one token per character there)', () => {
    for (const text of [
      '我们的鞋子很好，你应该买。春季系列现已上市，全场八折。',
      'Наши кроссовки лёгкие и удобные. Купите их сегодня со скидкой.',
      'Unsere Schuhe sind großartig – jetzt 30 % günstiger! 🎉👟',
    ]) {
      const r: RewriteRequest = { text, action: 'rewrite' };
      expect(estimateTokens(r).inputTokens).toBeGreaterThanOrEqual(countChatTokens(buildMessages(r)) * 0.9);
    }
  });

  it('orders actions sensibly for the same text', () => {
    const text = SAMPLES[2]!;
    const likely = (action: RewriteRequest['action']) => estimateTokens({ text, action }).likelyTokens;
    expect(likely('shorten')).toBeLessThan(likely('rewrite'));
    expect(likely('rewrite')).toBeLessThan(likely('expand'));
  });
});
