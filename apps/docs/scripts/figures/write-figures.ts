import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generated } from '../paths.js';
import { initFigures } from './init-figures.js';
import { mergeFigures } from './merge-figures.js';

/** Calibration text for the EVA figure: the demo's own `copy:` task language. */
const CALIBRATION = Array.from({ length: 16 }, (_, i) => {
  const word = Array.from({ length: 3 + (i % 4) }, (_, j) =>
    String.fromCharCode(97 + ((i * 7 + j * 5) % 26)),
  ).join('');
  return `copy: ${word}|${word}`;
});

export async function writeFigures(): Promise<{ files: string[] }> {
  const figures = [...(await initFigures(CALIBRATION)), ...mergeFigures()];
  for (const figure of figures) writeFileSync(join(generated.figures, figure.file), figure.svg);
  return { files: figures.map((figure) => figure.file) };
}
