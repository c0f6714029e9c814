/**
 * What the stand-in reads and writes: the messages' text, prompt token counts (o200k, as gpt-4o-mini), and the
 * generated answer — readable words from the last user message, one o200k token per piece, so any prefix of the
 * answer counts as exactly as many tokens as pieces were sent.
 */
import { encode, encodeChat } from 'gpt-tokenizer/model/gpt-4o';

export type ChatMessage = { role: string; content: string };

/** Used when the last user message has no usable words. */
const LOREM =
  'the quick brown fox jumps over a lazy dog while our team writes clear and simple words for every reader'.split(' ');

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p: unknown) => (p && typeof p === 'object' && 'text' in p && typeof p.text === 'string' ? p.text : ''))
      .join('');
  }
  return '';
}

export function chatMessages(messages: unknown[]): ChatMessage[] {
  return messages.map((m) => {
    const o = (m && typeof m === 'object' ? m : {}) as { role?: unknown; content?: unknown };
    return { role: typeof o.role === 'string' ? o.role : 'user', content: contentText(o.content) };
  });
}

/** The prompt's o200k tokens as the chat format lays them out (what prompt caching matches on). */
export function promptTokens(messages: ChatMessage[]): number[] {
  try {
    return encodeChat(messages, 'gpt-4o-mini');
  } catch {
    return messages.flatMap((m) => [0, 0, 0, ...encode(m.content)]).concat([0, 0, 0]);
  }
}

const singleToken = (s: string) => encode(s).length === 1;

/**
 * `n` pieces of text that are one o200k token each and stay one token each when concatenated: whole words
 * (letters only) that encode to a single token with their leading space, so the pre-tokenizer splits the
 * joined text exactly at the piece boundaries. Any prefix therefore counts as exactly as many tokens.
 */
export function generatePieces(source: string, n: number): string[] {
  // Markup such as our prompt's <text>…</text> wrapper is not content: leave tag names out.
  const words = source.replace(/<\/?[A-Za-z][^>]*>/g, ' ').match(/\p{L}+/gu) ?? [];
  const fromSource = words.filter((w) => singleToken(` ${w}`));
  const pool = fromSource.length > 0 ? fromSource : LOREM;
  const pieces: string[] = [];
  for (let i = 0; i < n; i++) {
    const word = pool[i % pool.length]!;
    pieces.push(i === 0 && singleToken(word) ? word : ` ${word}`);
  }
  return pieces;
}
