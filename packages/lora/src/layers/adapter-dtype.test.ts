import { Linear, Module, Parameter } from '@lorakit/nn';
import { linear, manualSeed, randn, type Tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { getPeftModel } from '../index.js';

/** Two stacked linears; cast to a 16-bit dtype by the tests (as `model.to(torch.bfloat16)`). */
class TwoLinears extends Module<[Tensor], Tensor> {
  constructor() {
    super();
    this.registerModule('first', new Linear(16, 12));
    this.registerModule('second', new Linear(12, 8));
  }
  forward(x: Tensor): Tensor {
    return this.child('second').call(this.child('first').call(x));
  }
}

function model(dtype: 'bfloat16' | 'float16' | 'float32'): TwoLinears {
  manualSeed(3);
  const m = new TwoLinears();
  for (const [path, p] of m.namedParameters()) m.setParameter(path, new Parameter(p.detach().cast(dtype)));
  return m;
}

const config = { r: 4, loraAlpha: 8, targetModules: ['first', 'second'], initLoraWeights: false } as const;

describe("PEFT's adapter dtypes on a 16-bit base model (autocast_adapter_dtype)", () => {
  it('autocast (the default): float32 factors holding bfloat16 values; outputs stay bfloat16', () => {
    const peft = getPeftModel(model('bfloat16'), config);
    const factors = peft.namedParameters().filter(([name]) => name.includes('lora_'));
    expect(factors.length).toBe(4);
    for (const [name, p] of factors) {
      expect(p.dtype, name).toBe('float32');
      // Rounded to bfloat16 after init, as PEFT casts the new adapter to the base dtype first.
      expect(Array.from(p.cast('bfloat16').float().toArray() as Float32Array), name).toEqual(
        Array.from(p.toArray() as Float32Array),
      );
      expect(p.requiresGrad, name).toBe(true);
    }
    const x = randn([2, 16]).cast('bfloat16');
    const out = peft.call(x) as Tensor;
    expect(out.dtype).toBe('bfloat16');
    (out.float().square().sum() as Tensor).backward();
    for (const [name, p] of factors) {
      expect(p.grad?.dtype, name).toBe('float32');
      expect(p.grad!.abs().sum().item(), name).toBeGreaterThan(0);
    }
  });

  it("computes each layer as PEFT does: x cast to the factors' dtype, the sum cast back", () => {
    const peft = getPeftModel(model('bfloat16'), config);
    const x = randn([3, 16]).cast('bfloat16');
    const p = Object.fromEntries(
      peft.namedParameters().map(([n, t]) => [n.replace('base_model.model.', ''), t]),
    );
    const layer = (input: Tensor, name: string) =>
      linear(input, p[`${name}.base_layer.weight`]!, p[`${name}.base_layer.bias`]!)
        .add(
          linear(
            linear(input.cast('float32'), p[`${name}.lora_A.default.weight`]!),
            p[`${name}.lora_B.default.weight`]!,
          ).mul(2),
        )
        .cast('bfloat16');
    const expected = layer(layer(x, 'first'), 'second');
    const out = peft.call(x) as Tensor;
    expect(Array.from(out.float().toArray() as Float32Array)).toEqual(
      Array.from(expected.float().toArray() as Float32Array),
    );
  });

  it('autocastAdapterDtype: false keeps the factors in the base dtype', () => {
    const peft = getPeftModel(model('float16'), config, { autocastAdapterDtype: false });
    for (const [name, p] of peft.namedParameters().filter(([n]) => n.includes('lora_')))
      expect(p.dtype, name).toBe('float16');
    const out = peft.call(randn([2, 16]).cast('float16')) as Tensor;
    expect(out.dtype).toBe('float16');
  });

  it('a float32 base model keeps float32 factors, not rounded to 16 bits', () => {
    const peft = getPeftModel(model('float32'), config);
    const a = peft.namedParameters().find(([n]) => n.includes('lora_A'))![1];
    expect(a.dtype).toBe('float32');
    const values = Array.from(a.toArray() as Float32Array);
    const rounded = Array.from(a.cast('bfloat16').float().toArray() as Float32Array);
    expect(values).not.toEqual(rounded);
  });
});
