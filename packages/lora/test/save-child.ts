/**
 * Child process of the crash-consistency test: saves an adapter into `dir` over and over, alternating
 * between two versions (rank 4 with weights = 1, rank 8 with weights = 2), until it is killed. Each save
 * is complete in itself, so whatever the kill interrupts, `dir` must hold one version whole.
 * Usage: node --conditions=@lorakit/source --import tsx test/save-child.ts <dir>
 */
import { Linear, Module } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import { getPeftModel, type LoraLinear, saveAdapter } from '../src/index.js';

class Wide extends Module {
  constructor() {
    super();
    // Wide enough that a save writes a few MB and the kill lands inside it most of the time.
    this.registerModule('q_proj', new Linear(1024, 1024, { init: false }));
    this.registerModule('v_proj', new Linear(1024, 1024, { init: false }));
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}

function version(rank: number, value: number) {
  const peft = getPeftModel(new Wide(), { r: rank, loraAlpha: rank, targetModules: ['q_proj', 'v_proj'] });
  for (const [, layer] of peft.loraLayers()) {
    (layer as LoraLinear).loraA('default').weight.assign(value);
    (layer as LoraLinear).loraB('default').weight.assign(value);
  }
  return peft;
}

const dir = process.argv[2]!;
const versions = [version(4, 1), version(8, 2)];
process.stdout.write('ready\n');
for (let i = 0; ; i++) await saveAdapter(versions[i % 2]!, dir);
