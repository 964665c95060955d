import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fineTune } from '../examples/fine-tune.js';
import { makeWorkspace, shiftExamples } from './workspace.js';

// The guides' TypeScript samples (examples/*.ts, shown on the pages with `<<<`) run here on tiny data:
// the demo's 84k-parameter Llama and the JavaScript reference backend.
let workspace: ReturnType<typeof makeWorkspace>;
beforeAll(() => {
  workspace = makeWorkspace();
  vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterAll(() => {
  vi.restoreAllMocks();
  workspace?.cleanup();
});
const at = (name: string) => join(workspace.dir, name);

describe('getting started', () => {
  it('fine-tune.ts trains, saves a PEFT adapter, loads it and generates', async () => {
    const texts = shiftExamples(32).map((e) => e.prompt + e.completion);
    const { losses, completion } = await fineTune(at('my-model'), texts, at('adapter'), 'shift: abc|');
    expect(existsSync(at('adapter/adapter_config.json'))).toBe(true);
    expect(existsSync(at('adapter/adapter_model.safetensors'))).toBe(true);
    expect(losses).toHaveLength(30);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.8);
    expect(completion.startsWith('shift: abc|')).toBe(true);
  });
});

describe('LoraConfig', () => {
  it('lora-config.ts round-trips through PEFT keys', async () => {
    const { loraConfigRoundTrip } = await import('../examples/lora-config.js');
    const { dict, again } = loraConfigRoundTrip();
    expect(dict).toMatchObject({ r: 16, lora_alpha: 32, target_modules: 'all-linear', use_rslora: true });
    expect(dict.rank_pattern).toEqual({ v_proj: 8 });
    expect(again.useRslora).toBe(true);
    expect(again.scalingFor(16, 32)).toBe(8);
  });
});

describe('training', () => {
  it('train-loop.ts lowers the held-out loss and saves the adapter', async () => {
    const { trainLoop } = await import('../examples/train-loop.js');
    const examples = shiftExamples(72, 3);
    const { before, after } = await trainLoop(
      at('my-model'),
      examples.slice(0, 64),
      examples.slice(64),
      at('loop'),
    );
    expect(after).toBeLessThan(before * 0.7);
    expect(existsSync(at('loop/adapter_model.safetensors'))).toBe(true);
  });
});
