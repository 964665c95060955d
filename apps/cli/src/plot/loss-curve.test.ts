import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { COLORS, drawLossCurve, PLOT_AREA } from './loss-curve.js';

/** Pixels of one color, as [x, y]. */
function pixelsOf(png: Buffer, [r, g, b]: readonly number[]): [number, number][] {
  const image = PNG.sync.read(png);
  const out: [number, number][] = [];
  for (let y = 0; y < image.height; y++)
    for (let x = 0; x < image.width; x++) {
      const i = (y * image.width + x) * 4;
      if (image.data[i] === r && image.data[i + 1] === g && image.data[i + 2] === b) out.push([x, y]);
    }
  return out;
}

const inPlot = ([x, y]: [number, number]) =>
  x >= PLOT_AREA.left &&
  x < PLOT_AREA.left + PLOT_AREA.width &&
  y >= PLOT_AREA.top &&
  y < PLOT_AREA.top + PLOT_AREA.height;

describe('drawLossCurve', () => {
  it('fits the loss axis to the data: a 2.1 → 1.9 run fills the plot instead of a flat line', () => {
    const losses = Array.from({ length: 50 }, (_, i) => ({ step: i + 1, loss: 2.1 - (0.2 * i) / 49 }));
    const ys = pixelsOf(drawLossCurve(losses), COLORS.smooth)
      .filter(inPlot)
      .map(([, y]) => y);
    expect(Math.max(...ys) - Math.min(...ys)).toBeGreaterThan(PLOT_AREA.height * 0.8);
  });

  it('uses a log axis for a loss that falls by more than 2×', () => {
    const losses = Array.from({ length: 40 }, (_, i) => ({ step: i + 1, loss: 4 * 0.95 ** i }));
    const png = drawLossCurve(losses);
    // On a log axis an exponential decay is a straight line: the middle point sits halfway.
    const curve = pixelsOf(png, COLORS.smooth).filter(inPlot);
    const xs = curve.map(([x]) => x);
    const middle = (Math.min(...xs) + Math.max(...xs)) / 2;
    const at = (x: number) => {
      const column = curve.filter(([cx]) => Math.abs(cx - x) <= 1).map(([, y]) => y);
      return column.reduce((a, b) => a + b, 0) / column.length;
    };
    const top = at(Math.min(...xs) + 20);
    const bottom = at(Math.max(...xs) - 20);
    expect(Math.abs(at(middle) - (top + bottom) / 2)).toBeLessThan(6);
  });

  it('draws the legend outside the plot, so no eval marker or curve is covered', () => {
    const losses = Array.from({ length: 20 }, (_, i) => ({ step: i + 1, loss: 3 - i * 0.1 }));
    // Eval losses at the top right and top left of the plot, where a legend inside it would sit.
    const evaluation = [
      { step: 2, loss: 3.2 },
      { step: 18, loss: 3.2 },
    ];
    const png = drawLossCurve(losses, { evaluation });
    expect(pixelsOf(png, COLORS.text).filter(inPlot)).toEqual([]);
    // Each marker is a full 7 × 7 square (nothing drawn over it).
    expect(pixelsOf(png, COLORS.evaluation).filter(inPlot)).toHaveLength(2 * 49);
  });
});
