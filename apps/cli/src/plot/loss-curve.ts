import { writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { drawText, GLYPH_HEIGHT, textWidth } from './bitmap-font.js';

export interface LossCurvePoint {
  readonly step: number;
  readonly loss: number;
}

type Rgb = readonly [number, number, number];

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { left: 70, right: 24, top: 58, bottom: 52 };

/** The plot rectangle inside the margins (curves and markers are drawn only there). */
export const PLOT_AREA = {
  left: MARGIN.left,
  top: MARGIN.top,
  width: WIDTH - MARGIN.left - MARGIN.right,
  height: HEIGHT - MARGIN.top - MARGIN.bottom,
} as const;
const SCALE = 2;
export const COLORS = {
  background: [255, 255, 255],
  axis: [60, 60, 60],
  grid: [225, 225, 225],
  text: [30, 30, 30],
  raw: [160, 190, 235],
  smooth: [31, 90, 180],
  evaluation: [230, 120, 20],
} as const satisfies Record<string, Rgb>;

/** A canvas of RGBA pixels with the few drawing operations the plot needs. */
class Canvas {
  readonly png: PNG;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.png = new PNG({ width, height });
    this.fill(0, 0, width, height, COLORS.background);
  }
  set(x: number, y: number, [r, g, b]: Rgb): void {
    const px = Math.round(x);
    const py = Math.round(y);
    if (px < 0 || py < 0 || px >= this.width || py >= this.height) return;
    const i = (py * this.width + px) * 4;
    this.png.data[i] = r;
    this.png.data[i + 1] = g;
    this.png.data[i + 2] = b;
    this.png.data[i + 3] = 255;
  }
  fill(x: number, y: number, w: number, h: number, color: Rgb): void {
    for (let py = y; py < y + h; py++) for (let px = x; px < x + w; px++) this.set(px, py, color);
  }
  /** A line of the given thickness (a DDA walk, one square brush per step). */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, thickness = 1): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const half = Math.floor(thickness / 2);
    for (let i = 0; i <= steps; i++) {
      const x = x0 + ((x1 - x0) * i) / steps;
      const y = y0 + ((y1 - y0) * i) / steps;
      this.fill(Math.round(x) - half, Math.round(y) - half, thickness, thickness, color);
    }
  }
  text(text: string, x: number, y: number, color: Rgb): void {
    drawText(text, x, y, SCALE, (px, py) => this.set(px, py, color));
  }
}

/** Round numbers for axis ticks: about `count` values of 1, 2 or 5 × 10ⁿ spanning [low, high]. */
function niceTicks(low: number, high: number, count: number): number[] {
  const span = high - low || 1;
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(low / step) * step; t <= high + step * 1e-9; t += step)
    ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function formatTick(value: number): string {
  if (value === 0) return '0';
  if (Math.abs(value) >= 1000 || Math.abs(value) < 0.01) return value.toExponential(0).replace('+', '');
  return String(Number(value.toPrecision(3)));
}

/** Centered moving average over `radius` neighbours on each side (no lag, unlike an EMA). */
function smooth(values: readonly number[], radius: number): number[] {
  return values.map((_, i) => {
    const window = values.slice(Math.max(0, i - radius), i + radius + 1);
    return window.reduce((a, b) => a + b, 0) / window.length;
  });
}

/** Log-axis ticks: 1, 2 and 5 × 10ⁿ inside [low, high] (given as log10 values). */
function logTicks(low: number, high: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(low); e <= Math.ceil(high); e++) {
    for (const m of [1, 2, 5]) {
      const value = m * 10 ** e;
      if (Math.log10(value) >= low && Math.log10(value) <= high) ticks.push(Number(value.toPrecision(6)));
    }
  }
  return ticks;
}

/**
 * Draws the training loss per step (raw, and smoothed by a centered moving average) and the evaluation
 * losses as a PNG: axes with round ticks fitted to the data, a log loss axis when the loss changes by more
 * than 2×, a title and a legend above the plot.
 * Returns the PNG bytes and writes them to `path` when given.
 */
export function drawLossCurve(
  losses: readonly LossCurvePoint[],
  options: { evaluation?: readonly LossCurvePoint[]; title?: string } = {},
): Buffer {
  const canvas = new Canvas(WIDTH, HEIGHT);
  const evaluation = options.evaluation ?? [];
  const all = [...losses, ...evaluation].filter((p) => Number.isFinite(p.loss));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const minStep = Math.min(...all.map((p) => p.step), 0);
  const maxStep = Math.max(...all.map((p) => p.step), 1);
  const minLoss = Math.min(...all.map((p) => p.loss));
  const maxLoss = Math.max(...all.map((p) => p.loss));
  // A loss is positive and falls by ratios: a log axis unless the whole run stays within 2× (then a linear
  // axis reads better). Either way the axis fits the data with 5 % padding — anchoring it at 0 squeezed a
  // 2.1 → 1.9 run into a flat line at the top.
  const logScale = minLoss > 0 && maxLoss / minLoss > 2;
  const toY = logScale ? Math.log10 : (v: number) => v;
  const spread = toY(maxLoss) - toY(minLoss) || Math.abs(toY(maxLoss)) * 0.1 || 1;
  const yLow = toY(minLoss) - spread * 0.05;
  const yHigh = toY(maxLoss) + spread * 0.05;
  const px = (step: number) => MARGIN.left + ((step - minStep) / (maxStep - minStep || 1)) * plotW;
  const py = (loss: number) => MARGIN.top + (1 - (toY(loss) - yLow) / (yHigh - yLow || 1)) * plotH;

  // Less than a decade of log axis has too few 1-2-5 ticks: round values then, placed on the log axis.
  const decadeTicks = logScale ? logTicks(yLow, yHigh) : [];
  const yTicks =
    decadeTicks.length >= 3
      ? decadeTicks
      : logScale
        ? niceTicks(10 ** yLow, 10 ** yHigh, 5)
        : niceTicks(yLow, yHigh, 5);
  for (const tick of yTicks) {
    const y = py(tick);
    if (y < MARGIN.top - 1 || y > MARGIN.top + plotH + 1) continue;
    canvas.line(MARGIN.left, y, MARGIN.left + plotW, y, COLORS.grid);
    const label = formatTick(tick);
    canvas.text(label, MARGIN.left - 8 - textWidth(label, SCALE), y - GLYPH_HEIGHT, COLORS.text);
  }
  for (const tick of niceTicks(minStep, maxStep, 6)) {
    const x = px(tick);
    canvas.line(x, MARGIN.top, x, MARGIN.top + plotH, COLORS.grid);
    const label = formatTick(tick);
    canvas.text(label, x - textWidth(label, SCALE) / 2, MARGIN.top + plotH + 8, COLORS.text);
  }
  canvas.line(MARGIN.left, MARGIN.top, MARGIN.left, MARGIN.top + plotH, COLORS.axis, 2);
  canvas.line(MARGIN.left, MARGIN.top + plotH, MARGIN.left + plotW, MARGIN.top + plotH, COLORS.axis, 2);

  const points = losses.filter((p) => Number.isFinite(p.loss));
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    canvas.line(px(a.step), py(a.loss), px(b.step), py(b.loss), COLORS.raw);
  }
  const smoothed = smooth(
    points.map((p) => (logScale ? Math.log10(p.loss) : p.loss)),
    Math.max(1, Math.round(points.length / 25)),
  ).map((v) => (logScale ? 10 ** v : v));
  for (let i = 1; i < points.length; i++) {
    canvas.line(
      px(points[i - 1]!.step),
      py(smoothed[i - 1]!),
      px(points[i]!.step),
      py(smoothed[i]!),
      COLORS.smooth,
      2,
    );
  }
  for (const p of evaluation) {
    if (Number.isFinite(p.loss))
      canvas.fill(Math.round(px(p.step)) - 3, Math.round(py(p.loss)) - 3, 7, 7, COLORS.evaluation);
  }

  const title = `${options.title ?? 'training loss'}${logScale ? ' (log scale)' : ''}`;
  canvas.text(title, MARGIN.left, 14, COLORS.text);
  const xLabel = 'step';
  canvas.text(xLabel, MARGIN.left + plotW / 2 - textWidth(xLabel, SCALE) / 2, HEIGHT - 20, COLORS.text);
  canvas.text('loss', 8, MARGIN.top - 16, COLORS.text);
  // Legend in one row between the title and the plot: inside the plot it covered curves or eval markers.
  const entries: [string, Rgb][] = [
    ['train loss (smoothed)', COLORS.smooth],
    ['train loss', COLORS.raw],
  ];
  if (evaluation.length) entries.push(['eval loss', COLORS.evaluation]);
  let legendX = MARGIN.left;
  const legendY = 34;
  for (const [label, color] of entries) {
    canvas.fill(legendX, legendY + 3, 18, 4, color);
    canvas.text(label, legendX + 26, legendY, COLORS.text);
    legendX += 26 + textWidth(label, SCALE) + 24;
  }
  return PNG.sync.write(canvas.png);
}

export async function writeLossCurve(
  path: string,
  losses: readonly LossCurvePoint[],
  options: { evaluation?: readonly LossCurvePoint[]; title?: string } = {},
): Promise<void> {
  writeFileSync(path, drawLossCurve(losses, options));
}
