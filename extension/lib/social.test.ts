import { describe, expect, it } from 'vitest';
import { platformForSite, postLength } from './social';

describe('platformForSite', () => {
  it('names the platform of its own sites, subdomains too; nothing elsewhere', () => {
    expect(platformForSite('www.linkedin.com')).toBe('linkedin');
    expect(platformForSite('de.linkedin.com')).toBe('linkedin');
    expect(platformForSite('x.com')).toBe('x');
    expect(platformForSite('mobile.twitter.com')).toBe('x');
    expect(platformForSite('www.instagram.com')).toBe('instagram');
    expect(platformForSite('m.facebook.com')).toBe('facebook');
    expect(platformForSite('notlinkedin.com')).toBeNull();
    expect(platformForSite('linkedin.com.evil.example')).toBeNull();
    expect(platformForSite('example.com')).toBeNull();
    expect(platformForSite(null)).toBeNull();
  });
});

describe('postLength', () => {
  it('X: Latin counts 1, CJK 2, an emoji (even a ZWJ family) 2, any link 23', () => {
    expect(postLength('Hello', 'x')).toEqual({ count: 5, limit: 280, over: false });
    expect(postLength('日本語', 'x').count).toBe(6);
    expect(postLength('Go 👨‍👩‍👧', 'x').count).toBe(5);
    expect(postLength('See https://example.com/a/very/long/path?with=query now', 'x').count).toBe(4 + 23 + 4);
    expect(postLength('Café — “quoted”', 'x').count).toBe(15);
  });

  it('says when a post is over the limit', () => {
    expect(postLength('a'.repeat(280), 'x').over).toBe(false);
    expect(postLength('a'.repeat(281), 'x')).toEqual({ count: 281, limit: 280, over: true });
    expect(postLength('日'.repeat(141), 'x').over).toBe(true);
  });

  it('other platforms count what the reader sees as characters', () => {
    expect(postLength('Go 👨‍👩‍👧', 'linkedin')).toEqual({ count: 4, limit: 3000, over: false });
    expect(postLength('x'.repeat(2201), 'instagram').over).toBe(true);
  });
});
