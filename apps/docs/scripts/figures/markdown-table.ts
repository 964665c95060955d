import { readFileSync } from 'node:fs';

export interface MarkdownTable {
  readonly header: string[];
  readonly rows: string[][];
}

/**
 * The tables of a README section: the first heading whose text contains `heading`, up to the next heading
 * of the same or a higher level. Throws, naming the file and the heading, when there is none — a README
 * that changes shape must fail the docs build rather than drop a plot silently.
 */
export function tablesUnder(file: string, heading: string): MarkdownTable[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((line) => /^#{1,6} /.test(line) && line.includes(heading));
  if (start === -1) throw new Error(`[docs] ${file} has no heading containing "${heading}"`);
  const level = lines[start]!.indexOf(' ');
  const tables: MarkdownTable[] = [];
  let current: string[][] | undefined;
  for (const line of lines.slice(start + 1)) {
    const match = /^(#{1,6}) /.exec(line);
    if (match && match[1]!.length <= level) break;
    if (line.startsWith('|')) {
      const cells = line
        .slice(1, line.endsWith('|') ? -1 : undefined)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim());
      if (cells.every((cell) => /^:?-+:?$/.test(cell))) continue;
      if (!current) {
        current = [];
        tables.push({ header: cells, rows: current });
      } else current.push(cells);
    } else current = undefined;
  }
  if (tables.length === 0) throw new Error(`[docs] ${file}: no table under "${heading}"`);
  return tables;
}

/** The column whose header contains `name` (first match); throws listing the headers. */
export function column(table: MarkdownTable, name: string): string[] {
  const index = table.header.findIndex((header) => header.includes(name));
  if (index === -1)
    throw new Error(`[docs] no column "${name}" in a benchmark table; columns: ${table.header.join(' | ')}`);
  return table.rows.map((row) => row[index] ?? '');
}

/**
 * The first number of a cell, in the unit the cell states: `50.4`, `0.93×`, `561 ms`, `11.29 s` (→ ms
 * when `toMs`), `40.8 ms, 0.68×`. NaN for an empty cell.
 */
export function numberIn(cell: string, options: { toMs?: boolean } = {}): number {
  const match = /(-?\d+(?:\.\d+)?)\s*(ms|s|µs|×)?/.exec(cell.replace(/\*\*/g, ''));
  if (!match) return Number.NaN;
  const value = Number(match[1]);
  if (!options.toMs) return value;
  if (match[2] === 's') return value * 1000;
  if (match[2] === 'µs') return value / 1000;
  return value;
}

/** The ratio (the number before ×) of a cell such as `40.8 ms, 0.68×`. */
export function ratioIn(cell: string): number {
  const match = /(\d+(?:\.\d+)?)×/.exec(cell);
  return match ? Number(match[1]) : Number.NaN;
}
