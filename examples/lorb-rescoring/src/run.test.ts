import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatReport, runExperiment, SMALL } from './run.js';

describe('the LoRB experiment, small setting', () => {
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
