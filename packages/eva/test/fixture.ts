import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoraConfig, type LoraConfigOptions } from '@lorakit/lora';
import { type LlamaForCausalLM, loadModel } from '@lorakit/models';
import { Linear, Module } from '@lorakit/nn';
import { readTensorFile, type Tensor } from '@lorakit/tensor';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { evaConfig } from '../src/index.js';

/** PEFT 0.21's init_eva case (tiny Llama: hidden 32, intermediate 64, 2 layers; 6 batches of 4 × 16). */
export const initEvaDir = join(peftFixturesDir(), 'init_eva');
export const initEvaSpec = JSON.parse(readFileSync(join(initEvaDir, 'case.json'), 'utf8')) as {
  ranks: Record<string, number>;
  rank_pattern: Record<string, number>;
  alpha_pattern: Record<string, number>;
  n_batches: number;
};
export const initEvaIo = readTensorFile(join(initEvaDir, 'io.safetensors'));

export interface LmBatch {
  inputIds: Tensor;
  attentionMask: Tensor;
  labels: Tensor;
}

/** The case's calibration batches, with lorakit's input names. */
export function initEvaBatches(): LmBatch[] {
  return Array.from({ length: initEvaSpec.n_batches }, (_, i) => ({
    inputIds: initEvaIo.get(`batch${i}.input_ids`)!,
    attentionMask: initEvaIo.get(`batch${i}.attention_mask`)!,
    labels: initEvaIo.get(`batch${i}.labels`)!,
  }));
}

export function loadInitEvaModel(): Promise<LlamaForCausalLM> {
  return loadModel(join(initEvaDir, 'base')) as Promise<LlamaForCausalLM>;
}

/** The case's LoRA config: r 4, α 8 on q/v/o/up/down, rho 2, tau 0.99. */
export function initEvaConfig(overrides: LoraConfigOptions = {}): LoraConfig {
  return new LoraConfig({
    r: 4,
    loraAlpha: 8,
    targetModules: ['q_proj', 'v_proj', 'o_proj', 'up_proj', 'down_proj'],
    initLoraWeights: 'eva',
    evaConfig: evaConfig({ rho: 2, tau: 0.99 }),
    ...overrides,
  });
}

/** `layers` blocks `block<i>.proj` (Linear(width, width), then tanh) in turn, then `head`: x [N, width] → [N, 2]. */
export class Chain extends Module {
  readonly layers: number;

  constructor(layers: number, width: number) {
    super();
    for (let i = 0; i < layers; i++) this.registerModule(`block${i}`, new Block(width));
    this.registerModule('head', new Linear(width, 2));
    this.layers = layers;
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (let i = 0; i < this.layers; i++) h = this.child(`block${i}`).call(h);
    return this.child('head').call(h);
  }
}

class Block extends Module {
  constructor(width: number) {
    super();
    this.registerModule('proj', new Linear(width, width));
  }
  forward(x: Tensor): Tensor {
    return this.child('proj').call(x).tanh();
  }
}
