import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeCopyText } from './fixtures.js';
import { demoBase, lorakit, temporaryDirectory } from './run-cli.js';

interface TrainJson {
  losses: { step: number; loss: number }[];
  tokens: number;
  tokensPerSecond: number;
  flops: number;
  mfu: number | null;
  peakFlops: unknown;
}

describe('lorakit train --gradient-checkpointing and throughput', () => {
  let dir: string;
  let args: string[];
  beforeAll(() => {
    dir = temporaryDirectory();
    const data = writeCopyText(dir);
    args = ['train', '--model', demoBase, '--data', data, '--r', '4', '--alpha', '8'];
    args.push('--target-modules', 'q_proj,v_proj', '--dropout', '0.1', '--max-steps', '3', '--lr', '1e-2');
  });

  it('gives the same losses with and without it (js backend, LoRA dropout on) and reports tok/s and FLOPs', () => {
    const plain = lorakit([...args, '--out', join(dir, 'plain'), '--json']);
    const recomputed = lorakit([
      ...args,
      '--out',
      join(dir, 'recomputed'),
      '--json',
      '--gradient-checkpointing',
    ]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(recomputed.code, recomputed.stderr).toBe(0);
    const a = plain.json<TrainJson>();
    const b = recomputed.json<TrainJson>();
    expect(b.losses).toEqual(a.losses);
    expect(b.losses).toHaveLength(3);
    // Recomputation is not model work: the same FLOPs either way.
    expect(b.flops).toBe(a.flops);
    expect(a.flops).toBeGreaterThan(0);
    expect(a.tokensPerSecond).toBeGreaterThan(0);
    // The js backend names no device, so no peak rate and no MFU.
    expect([a.mfu, a.peakFlops]).toEqual([null, null]);
  });

  it('says in the summary that MFU is unknown without a device', () => {
    const run = lorakit([...args, '--out', join(dir, 'human'), '--gradient-checkpointing']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /trained 3 steps in [\d.]+ s \([\d,]+ tok\/s, MFU unknown: the js backend names no device\); final loss/,
    );
  });
});
