import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generated, repoRoot } from '../paths.js';
import { column, numberIn, ratioIn, tablesUnder } from './markdown-table.js';
import { barChart, COLORS } from './svg.js';

const readme = (folder: string) => join(repoRoot, 'packages', folder, 'README.md');

interface Plot {
  readonly file: string;
  readonly svg: string;
}

/**
 * Plots of the benchmark tables the packages' READMEs publish (numbers measured by `pnpm bench`, parsed
 * here, never typed in). Each plot names its source so a reader can find the run's conditions.
 */
export function benchmarkPlots(): Plot[] {
  const plots: Plot[] = [];

  const [llama] = tablesUnder(readme('cpu-backend'), 'Llama training');
  plots.push({
    file: 'bench-llama-cpu.svg',
    svg: barChart({
      title: 'Llama training step on the cpu backend vs PyTorch (2 threads)',
      subtitle: 'ms per step, lower is better — from packages/cpu-backend/README.md, “Llama training”',
      // "LoRA r=8 q/v: train step (loss, backward, AdamW) (PEFT)" → "LoRA r=8 q/v: train step"
      categories: column(llama!, 'step').map((c) => c.replace(/\s*\(.*?\)/g, '')),
      series: [
        {
          name: 'lorakit (cpu backend)',
          values: column(llama!, 'lorakit ms').map((c) => numberIn(c)),
          color: COLORS.blue,
        },
        {
          name: 'PyTorch / PEFT',
          values: column(llama!, 'torch ms').map((c) => numberIn(c)),
          color: COLORS.gray,
        },
      ],
      axisLabel: 'milliseconds',
      format: (v) => v.toFixed(0),
      width: 820,
    }),
  });

  const [speed] = tablesUnder(readme('lora'), 'Speed');
  const adapters = column(speed!, 'adapter');
  plots.push({
    file: 'bench-lora-vs-peft.svg',
    svg: barChart({
      title: 'LoRA forward and train step: lorakit time / PEFT time',
      subtitle: 'below 1 is faster than PEFT — from packages/lora/README.md, “Speed”',
      categories: adapters,
      series: [
        { name: 'forward', values: column(speed!, 'forward').map(ratioIn), color: COLORS.blue },
        { name: 'train step', values: column(speed!, 'train step (loss').map(ratioIn), color: COLORS.orange },
        {
          name: 'train step in tidy()',
          values: column(speed!, 'train step in').map(ratioIn),
          color: COLORS.green,
        },
      ],
      axisLabel: 'time ratio (lorakit / PEFT)',
      format: (v) => `${v.toFixed(2)}×`,
      reference: { value: 1, label: 'PEFT' },
    }),
  });

  // The first two tables: square products and the LoRA forward shapes (the README's targets).
  const gemm = tablesUnder(readme('cpu-backend'), 'GEMM (`bench').slice(0, 2);
  const shapes = gemm.flatMap((table) => column(table, 'shape'));
  plots.push({
    file: 'bench-gemm.svg',
    svg: barChart({
      title: 'SGEMM throughput: cpu backend vs NumPy/OpenBLAS (2 threads)',
      subtitle:
        'GFLOP/s (median), square and LoRA-forward shapes, higher is better — from packages/cpu-backend/README.md, “GEMM”',
      categories: shapes,
      series: [
        {
          name: 'lorakit cpu backend',
          values: gemm.flatMap((table) => column(table, 'ours GFLOP/s').map((c) => numberIn(c))),
          color: COLORS.blue,
        },
        {
          name: 'NumPy (OpenBLAS)',
          values: gemm.flatMap((table) => column(table, 'numpy GFLOP/s').map((c) => numberIn(c))),
          color: COLORS.gray,
        },
      ],
      axisLabel: 'GFLOP/s',
      format: (v) => v.toFixed(0),
    }),
  });

  const [elementwise] = tablesUnder(readme('cpu-backend'), 'Elementwise (`bench');
  const rows = column(elementwise!, 'js backend')
    .map((c, i) => ({ js: numberIn(c), i }))
    .filter((r) => !Number.isNaN(r.js));
  const ops = column(elementwise!, 'op');
  const cpuMs = column(elementwise!, 'ms').map((c) => numberIn(c));
  plots.push({
    file: 'bench-js-vs-cpu.svg',
    svg: barChart({
      title: 'Elementwise ops on 16M floats: js backend vs cpu backend',
      subtitle: 'ms, lower is better — from packages/cpu-backend/README.md, “Elementwise”',
      categories: rows.map((r) => ops[r.i]!),
      series: [
        { name: 'js backend', values: rows.map((r) => r.js), color: COLORS.orange },
        { name: 'cpu backend', values: rows.map((r) => cpuMs[r.i]!), color: COLORS.blue },
      ],
      axisLabel: 'milliseconds',
      format: (v) => v.toFixed(0),
    }),
  });

  const [linalg] = tablesUnder(readme('cpu-backend'), 'Dense linear algebra');
  plots.push({
    file: 'bench-linalg.svg',
    svg: barChart({
      title: 'float64 decompositions of a 1024 × 1024 matrix',
      subtitle: 'ms, lower is better — from packages/cpu-backend/README.md, “Dense linear algebra”',
      categories: column(linalg!, 'op'),
      series: [
        {
          name: 'cpu backend, 1 thread',
          values: column(linalg!, 'lorakit (1 thread)').map((c) => numberIn(c, { toMs: true })),
          color: COLORS.blue,
        },
        {
          name: 'NumPy, 1 thread',
          values: column(linalg!, 'numpy (1 thread)').map((c) => numberIn(c, { toMs: true })),
          color: COLORS.gray,
        },
        {
          name: 'js backend',
          values: column(linalg!, 'js backend').map((c) => numberIn(c, { toMs: true })),
          color: COLORS.orange,
        },
      ],
      axisLabel: 'milliseconds',
      format: (v) => v.toFixed(0),
    }),
  });

  return plots;
}

export function writeBenchmarkPlots(): { files: string[] } {
  const plots = benchmarkPlots();
  for (const plot of plots) writeFileSync(join(generated.figures, plot.file), plot.svg);
  return { files: plots.map((plot) => plot.file) };
}
