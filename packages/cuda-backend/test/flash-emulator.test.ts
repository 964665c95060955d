/**
 * Runs without a GPU: the real flash attention kernels (kernels/flash*.cuh) compiled for the host with
 * test/emulator/ standing in for common.cuh and mma.cuh (ldmatrix and mma.sync emulated per the PTX ISA's
 * fragment layouts, each CUDA thread a fiber, cp.async landing early or late), against float64 loops over
 * the definition: out, logsumexp, dq, dk, dv. It checks the kernels' indexing, masking and online softmax; the tensor cores' own numerics
 * and the PTX itself are checked by test/flash-attention.test.ts on a GPU. Needs g++ with C++20.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const compiler = process.env.CXX ?? 'g++';
const missing = spawnSync(compiler, ['--version']).status === 0 ? undefined : `${compiler} not found`;

/**
 * B H KVH T S D causal window padding transposed bf16 (see emulator.cpp), and the emulation mode: threads
 * in lockstep with cp.async landing at once, `greedy` (one warp runs ahead as far as the barriers allow:
 * a tile overwritten while another warp reads it shows up) or `deferred` (cp.async lands at the wait: a
 * read before the wait and barrier shows up).
 */
const CASES = [
  {
    name: 'bf16, D 64, causal, GQA 4:1, left padding with empty rows',
    args: '2 4 1 70 70 64 1 0 20 0 1',
    mode: '',
  },
  { name: 'the same, one warp ahead', args: '2 4 1 70 70 64 1 0 20 0 1', mode: 'greedy' },
  { name: 'the same, cp.async late', args: '2 4 1 70 70 64 1 0 20 0 1', mode: 'deferred' },
  {
    name: 'f16, D 128, causal with a KV-cache offset, transposed views',
    args: '1 2 2 70 100 128 1 0 0 1 0',
    mode: 'greedy',
  },
  { name: 'bf16, D 64, sliding window 50, T = 130', args: '1 2 2 130 130 64 1 50 0 0 1', mode: 'deferred' },
  { name: 'bf16, D 128, not causal, key padding', args: '2 2 1 77 77 128 0 0 30 0 1', mode: '' },
];

describe.skipIf(missing !== undefined)(
  `flash attention kernels under a host emulation of the warp${missing ? ` [skipped: ${missing}]` : ''}`,
  () => {
    let directory = '';
    beforeAll(() => {
      directory = mkdtempSync(join(tmpdir(), 'lorakit-flash-'));
      const kernels = join(here, '..', 'kernels');
      for (const name of readdirSync(kernels).filter((n) => n.startsWith('flash')))
        copyFileSync(join(kernels, name), join(directory, name));
      for (const name of readdirSync(join(here, 'emulator')))
        copyFileSync(join(here, 'emulator', name), join(directory, name));
      const built = spawnSync(
        compiler,
        ['-std=c++20', '-O2', '-w', '-o', join(directory, 'emulator'), join(directory, 'emulator.cpp')],
        { encoding: 'utf8' },
      );
      if (built.status !== 0) throw new Error(`compiling the emulator failed:\n${built.stderr}`);
    }, 180_000);
    afterAll(() => {
      if (directory) rmSync(directory, { recursive: true, force: true });
    });

    it.each(CASES)(
      '$name',
      ({ args }) => {
        const run = spawnSync(join(directory, 'emulator'), args.split(' '), { encoding: 'utf8' });
        expect(run.stdout + run.stderr).toContain('ok');
        expect(run.status, run.stdout).toBe(0);
      },
      60_000,
    );
  },
);
