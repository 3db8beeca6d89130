// Unit — the dashboard's dark theme keeps WCAG AA contrast: every colour the stylesheet declares for text
// reaches 4.5:1 on both backgrounds (web/src/style.css's custom properties).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const css = readFileSync(resolve(import.meta.dirname, '../../../web/src/style.css'), 'utf8');
const colours = Object.fromEntries(
  [...css.matchAll(/--([a-z-]+):\s*(#[0-9a-f]{6});/gi)].map((match) => [match[1]!, match[2]!]),
);

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

function contrast(a: string, b: string): number {
  const [high, low] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (high! + 0.05) / (low! + 0.05);
}

describe('dashboard theme contrast', () => {
  const text = ['text', 'muted', 'accent', 'ok', 'warn', 'error', 'violet', 'critical'];

  it('declares every text colour and both backgrounds', () => {
    for (const name of [...text, 'bg', 'panel']) expect(colours[name], name).toMatch(/^#/);
  });

  it.each(text)('--%s reaches 4.5:1 on --bg and --panel', (name) => {
    expect(contrast(colours[name]!, colours.bg!)).toBeGreaterThanOrEqual(4.5);
    expect(contrast(colours[name]!, colours.panel!)).toBeGreaterThanOrEqual(4.5);
  });
});
