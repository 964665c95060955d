/**
 * Tiny SVG writers for the docs' figures and plots. Every figure has its own white card background, so
 * it reads the same in the light and the dark theme, and a <title> for screen readers.
 */

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';
export const COLORS = {
  ink: '#1f2328',
  muted: '#59636e',
  grid: '#d0d7de',
  blue: '#3451b2',
  orange: '#e8a33d',
  green: '#2e8540',
  red: '#c0392b',
  gray: '#9aa4ae',
} as const;

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function text(
  x: number,
  y: number,
  content: string,
  options: { size?: number; anchor?: 'start' | 'middle' | 'end'; color?: string; weight?: string } = {},
): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="${options.size ?? 12}" text-anchor="${options.anchor ?? 'start'}" fill="${options.color ?? COLORS.ink}"${options.weight ? ` font-weight="${options.weight}"` : ''}>${escapeXml(content)}</text>`;
}

export function rect(x: number, y: number, width: number, height: number, fill: string, extra = ''): string {
  return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(0, width).toFixed(1)}" height="${Math.max(0, height).toFixed(1)}" fill="${fill}" ${extra}/>`;
}

export function svgDocument(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" ${FONT}>`,
    `<title>${escapeXml(title)}</title>`,
    rect(0, 0, width, height, '#ffffff', 'rx="8"'),
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

export interface BarSeries {
  readonly name: string;
  readonly values: readonly number[];
  readonly color: string;
}

/**
 * Horizontal grouped bars: one group per category, one bar per series, each labeled with its value.
 * `format` writes the value labels; `reference` draws a dashed vertical line (e.g. ratio 1).
 */
export function barChart(options: {
  title: string;
  subtitle?: string;
  categories: readonly string[];
  series: readonly BarSeries[];
  axisLabel: string;
  format: (value: number) => string;
  reference?: { value: number; label: string };
  width?: number;
}): string {
  const width = options.width ?? 760;
  const labelWidth = Math.min(360, 12 + 6.4 * Math.max(...options.categories.map((c) => c.length)));
  const left = labelWidth + 16;
  const right = width - 70;
  const bar = 14;
  const group = options.series.length * (bar + 3) + 12;
  const top = (options.subtitle ? 62 : 46) + (options.reference ? 14 : 0);
  const legendHeight = options.series.length > 1 ? 26 : 0;
  const height = top + options.categories.length * group + 40 + legendHeight;
  const max = Math.max(...options.series.flatMap((s) => s.values), options.reference?.value ?? 0) * 1.05;
  const scale = (value: number) => left + (value / max) * (right - left);
  const body: string[] = [text(16, 26, options.title, { size: 15, weight: '600' })];
  if (options.subtitle) body.push(text(16, 46, options.subtitle, { size: 11.5, color: COLORS.muted }));
  const ticks = niceTicks(max);
  for (const tick of ticks) {
    const x = scale(tick);
    body.push(
      `<line x1="${x}" y1="${top - 6}" x2="${x}" y2="${top + options.categories.length * group}" stroke="${COLORS.grid}" stroke-width="1"/>`,
    );
    body.push(
      text(x, top + options.categories.length * group + 16, options.format(tick), {
        size: 10.5,
        anchor: 'middle',
        color: COLORS.muted,
      }),
    );
  }
  options.categories.forEach((category, c) => {
    const y0 = top + c * group;
    body.push(text(left - 8, y0 + (group - 12) / 2 + 4, category, { size: 12, anchor: 'end' }));
    options.series.forEach((series, s) => {
      const value = series.values[c];
      if (value === undefined || Number.isNaN(value)) return;
      const y = y0 + s * (bar + 3);
      body.push(rect(left, y, scale(value) - left, bar, series.color, 'rx="2"'));
      body.push(
        text(scale(value) + 4, y + bar - 3, options.format(value), { size: 10.5, color: COLORS.muted }),
      );
    });
  });
  if (options.reference) {
    const x = scale(options.reference.value);
    body.push(
      `<line x1="${x}" y1="${top - 10}" x2="${x}" y2="${top + options.categories.length * group}" stroke="${COLORS.red}" stroke-dasharray="4 3" stroke-width="1.5"/>`,
    );
    body.push(text(x + 4, top - 10, options.reference.label, { size: 10.5, color: COLORS.red }));
  }
  const axisY = top + options.categories.length * group + 32;
  body.push(
    text((left + right) / 2, axisY, options.axisLabel, { size: 11, anchor: 'middle', color: COLORS.muted }),
  );
  if (legendHeight) {
    let x = left;
    for (const series of options.series) {
      body.push(rect(x, axisY + 10, 12, 12, series.color, 'rx="2"'));
      body.push(text(x + 17, axisY + 20, series.name, { size: 11.5 }));
      x += 30 + series.name.length * 6.6;
    }
  }
  return svgDocument(width, height, options.title, body);
}

/** About five round tick values from 0 to max. */
export function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0];
  const rough = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough)!;
  const ticks: number[] = [];
  for (let t = 0; t <= max + 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** A diverging color for a value in [-limit, limit]: blue negative, white zero, orange positive. */
export function divergingColor(value: number, limit: number): string {
  const t = Math.max(-1, Math.min(1, value / limit));
  const [r, g, b] = t >= 0 ? [232, 163, 61] : [52, 81, 178];
  const mix = (channel: number) => Math.round(255 + (channel - 255) * Math.abs(t));
  return `rgb(${mix(r)}, ${mix(g)}, ${mix(b)})`;
}

/**
 * Vertical bars of a spectrum (singular values, largest first), each colored by `colorOf(index)`, with a
 * legend of the colors used.
 */
export function spectrumChart(options: {
  title: string;
  subtitle: string;
  values: readonly number[];
  colorOf: (index: number) => string;
  legend: readonly { color: string; label: string }[];
  width?: number;
}): string {
  const width = options.width ?? 760;
  const left = 56;
  const right = width - 20;
  const top = 64;
  const plotHeight = 200;
  const height = top + plotHeight + 70;
  const max = Math.max(...options.values) * 1.05;
  const step = (right - left) / options.values.length;
  const body: string[] = [
    text(16, 26, options.title, { size: 15, weight: '600' }),
    text(16, 46, options.subtitle, { size: 11.5, color: COLORS.muted }),
  ];
  for (const tick of niceTicks(max)) {
    const y = top + plotHeight - (tick / max) * plotHeight;
    body.push(
      `<line x1="${left}" y1="${y.toFixed(1)}" x2="${right}" y2="${y.toFixed(1)}" stroke="${COLORS.grid}"/>`,
    );
    body.push(text(left - 6, y + 4, String(tick), { size: 10.5, anchor: 'end', color: COLORS.muted }));
  }
  options.values.forEach((value, i) => {
    const h = (value / max) * plotHeight;
    body.push(rect(left + i * step + step * 0.1, top + plotHeight - h, step * 0.8, h, options.colorOf(i)));
  });
  body.push(
    text((left + right) / 2, top + plotHeight + 18, 'singular values, largest first', {
      size: 11,
      anchor: 'middle',
      color: COLORS.muted,
    }),
  );
  let x = left;
  for (const entry of options.legend) {
    body.push(rect(x, top + plotHeight + 34, 12, 12, entry.color, 'rx="2"'));
    body.push(text(x + 17, top + plotHeight + 44, entry.label, { size: 11.5 }));
    x += 34 + entry.label.length * 6.4;
  }
  return svgDocument(width, height, options.title, body);
}

/** Rows of colored cells with their values: one row per labeled vector (the merge pictures). */
export function cellRows(options: {
  title: string;
  subtitle: string;
  rows: readonly { label: string; values: readonly number[]; note?: string; separator?: boolean }[];
  width?: number;
}): string {
  const labelWidth = 150;
  const cell = 40;
  const columns = Math.max(...options.rows.map((row) => row.values.length));
  const width = options.width ?? labelWidth + columns * cell + 290;
  const top = 64;
  const rowHeight = 34;
  const limit = Math.max(...options.rows.flatMap((row) => row.values.map(Math.abs)));
  const body: string[] = [
    text(16, 26, options.title, { size: 15, weight: '600' }),
    text(16, 46, options.subtitle, { size: 11.5, color: COLORS.muted }),
  ];
  let y = top;
  for (const row of options.rows) {
    if (row.separator) {
      body.push(`<line x1="16" y1="${y + 2}" x2="${width - 16}" y2="${y + 2}" stroke="${COLORS.grid}"/>`);
      y += 8;
    }
    body.push(text(labelWidth - 10, y + 20, row.label, { size: 12, anchor: 'end', weight: '600' }));
    row.values.forEach((value, i) => {
      const x = labelWidth + i * cell;
      body.push(
        rect(
          x,
          y + 2,
          cell - 3,
          rowHeight - 6,
          divergingColor(value, limit),
          `rx="3" stroke="${COLORS.grid}"`,
        ),
      );
      const label = value === 0 ? '0' : Math.abs(value) >= 10 ? value.toFixed(0) : value.toFixed(1);
      body.push(text(x + (cell - 3) / 2, y + 20, label, { size: 10.5, anchor: 'middle' }));
    });
    if (row.note)
      body.push(text(labelWidth + columns * cell + 8, y + 20, row.note, { size: 11, color: COLORS.muted }));
    y += rowHeight;
  }
  return svgDocument(width, y + 16, options.title, body);
}

/** A labeled box (the block diagrams). */
export function box(
  x: number,
  y: number,
  width: number,
  height: number,
  fill: string,
  label: string,
  sub?: string,
): string[] {
  const parts = [rect(x, y, width, height, fill, `rx="4" stroke="${COLORS.ink}" stroke-opacity="0.25"`)];
  parts.push(
    text(x + width / 2, y + height / 2 + (sub ? -2 : 4), label, {
      size: 13,
      anchor: 'middle',
      weight: '600',
      color: '#ffffff',
    }),
  );
  if (sub)
    parts.push(
      text(x + width / 2, y + height / 2 + 14, sub, { size: 10.5, anchor: 'middle', color: '#ffffff' }),
    );
  return parts;
}
