import { describe, expect, it } from 'vitest';
import { backgroundIsDark, luminance, parseRgb } from '../../../extension/lib/theme';

describe('theme', () => {
  it('parses computed colours', () => {
    expect(parseRgb('rgb(255, 255, 255)')).toEqual({ r: 255, g: 255, b: 255, a: 1 });
    expect(parseRgb('rgba(0, 0, 0, 0)')).toEqual({ r: 0, g: 0, b: 0, a: 0 });
    expect(parseRgb('rgb(10 20 30 / 50%)')).toEqual({ r: 10, g: 20, b: 30, a: 0.5 });
    expect(parseRgb('transparent')).toBeNull();
  });

  it('luminance runs from black to white', () => {
    expect(luminance({ r: 0, g: 0, b: 0 })).toBe(0);
    expect(luminance({ r: 255, g: 255, b: 255 })).toBeCloseTo(1);
  });

  it('the first opaque background decides; no background is the browser canvas', () => {
    expect(backgroundIsDark(['rgba(0, 0, 0, 0)', 'rgb(24, 24, 27)', 'rgb(255, 255, 255)'])).toBe(true);
    expect(backgroundIsDark(['rgba(0, 0, 0, 0)', 'rgb(250, 250, 250)'])).toBe(false);
    expect(backgroundIsDark(['rgba(0, 0, 0, 0.1)', 'rgb(250, 250, 250)'])).toBe(false);
    expect(backgroundIsDark(['rgba(0, 0, 0, 0)'])).toBe(false);
    expect(backgroundIsDark(['rgba(0, 0, 0, 0)'], 'dark')).toBe(true);
    expect(backgroundIsDark(['rgb(60, 60, 200)'])).toBe(true); // a saturated dark blue
  });
});
