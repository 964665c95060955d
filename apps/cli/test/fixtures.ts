import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** Deterministic small words for test data (no randomness: index arithmetic). */
function word(i: number): string {
  let out = '';
  for (let k = 0; k < 5; k++) out += LETTERS[(i * 7 + k * 11 + Math.floor(i / 3) * k) % 26];
  return out;
}

function shift(w: string): string {
  return [...w].map((c) => LETTERS[(LETTERS.indexOf(c) + 1) % 26]).join('');
}

/** A small prompt/completion JSONL file of the demo's shift task. */
export function writeShiftJsonl(dir: string, count = 48): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'shift.jsonl');
  const lines = Array.from({ length: count }, (_, i) =>
    JSON.stringify({ prompt: `shift: ${word(i)}|`, completion: shift(word(i)) }),
  );
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** A small plain-text file (one example per line) of the copy task. */
export function writeCopyText(dir: string, count = 32): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'copy.txt');
  writeFileSync(
    path,
    `${Array.from({ length: count }, (_, i) => `copy: ${word(i)}|${word(i)}`).join('\n')}\n`,
  );
  return path;
}
