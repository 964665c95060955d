import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from './backend.js';
import { formatReport, runExperiment, SMALL } from './run.js';

describe('the LoRB experiment, small setting', () => {
  // The native cpu backend when its addon is built (seconds), else the JavaScript one (about a minute).
  beforeAll(async () => {
    await chooseBackend();
  });

  it('rescoring with a LoRA-adapted BERT (< 1 % of its parameters) lowers the first-pass WER', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lorb-'));
    const report = await runExperiment(SMALL, out, () => {});
    const [firstPass, lorb, full] = report.rows;
    expect(report.rows.map((r) => r.system)).toEqual(['first pass', 'LoRB (LoRA r=1)', 'full fine-tuning']);
    expect(lorb!.fraction).toBeGreaterThan(0);
    expect(lorb!.fraction).toBeLessThan(0.01);
    expect(full!.fraction).toBe(1);
    expect(lorb!.wer).toBeLessThan(firstPass!.wer);
    expect(report.pretrainLoss.last).toBeLessThan(report.pretrainLoss.first);
    expect(existsSync(report.plot)).toBe(true);
    expect(existsSync(join(out, 'report.json'))).toBe(true);
    expect(formatReport(report)).toContain('| LoRB (LoRA r=1) |');
  });
});
