import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../backend/kernels.js';
import {
  createJsBackend,
  crossEntropy,
  type Dtype,
  DtypeError,
  LINEAR_CROSS_ENTROPY_CHUNK_BYTES,
  linear,
  linearCrossEntropy,
  linearCrossEntropyChunkRows,
  noGrad,
  randn,
  registerBackend,
  ShapeError,
  type Tensor,
  TensorError,
  tensor,
  unregisterBackend,
  withBackend,
  zeros,
} from '../index.js';
import { describeEachBackend } from '../testing/backends.js';
import { createOpaqueBackend } from '../testing/opaque-backend.js';

const ids = (values: number[], dtype: Dtype = 'int64') => tensor(values, { dtype });
type Reduction = 'mean' | 'sum' | 'none';

/** The composed definition: the whole [rows, vocab] logits, upcast, then crossEntropy. */
function reference(
  hidden: Tensor,
  weight: Tensor,
  target: Tensor,
  options: { bias?: Tensor | null; reduction: Reduction; softcap?: number | null; ignoreIndex?: number },
): Tensor {
  let logits = linear(hidden, weight, options.bias);
  if (options.softcap) logits = logits.div(options.softcap).tanh().mul(options.softcap);
  const lossDtype = logits.dtype === 'float64' ? 'float64' : 'float32';
  return crossEntropy(logits.cast(lossDtype), target, {
    reduction: options.reduction,
    ignoreIndex: options.ignoreIndex ?? -100,
  });
}

function maxDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.toArray() as Float64Array;
  const y = b.toArray() as Float64Array;
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]!) || Number.isNaN(y[i]!)) {
      if (Number.isNaN(x[i]!) !== Number.isNaN(y[i]!)) return Number.POSITIVE_INFINITY;
      continue;
    }
    worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  }
  return worst;
}

/** Loss and gradients of one implementation; 'none' is reduced with row weights so rows differ. */
function run(
  fn: typeof reference,
  inputs: { hidden: Tensor; weight: Tensor; bias: Tensor | null; target: Tensor },
  options: { reduction: Reduction; softcap?: number | null },
): { loss: Tensor; grads: (Tensor | null)[] } {
  const hidden = inputs.hidden.detach().setRequiresGrad(true);
  const weight = inputs.weight.detach().setRequiresGrad(true);
  const bias = inputs.bias ? inputs.bias.detach().setRequiresGrad(true) : null;
  const loss = fn(hidden, weight, inputs.target, { ...options, bias });
  const rows = inputs.hidden.shape[0]!;
  const probe =
    options.reduction === 'none'
      ? loss
          .mul(
            tensor(
              Array.from({ length: rows }, (_, i) => Math.cos(i) + 0.3),
              { dtype: loss.dtype },
            ),
          )
          .sum()
      : loss;
  probe.backward();
  return { loss: loss.detach(), grads: [hidden.grad, weight.grad, bias?.grad ?? null] };
}

describeEachBackend('linearCrossEntropy', () => {
  const targets = [3, -100, 0, 6, 6, 1, -100, 2, 5, 0, 4];
  for (const dtype of ['float32', 'float64'] as const) {
    const tolerance = dtype === 'float64' ? 1e-12 : 2e-6;
    it(`equals crossEntropy(linear(h, W).float(), t) and its gradients (${dtype}, every reduction and chunk size)`, () => {
      const inputs = {
        hidden: randn([11, 5], { dtype }),
        weight: randn([7, 5], { dtype }),
        bias: randn([7], { dtype }),
        target: ids(targets),
      };
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        for (const softcap of [null, 2]) {
          const expected = run(reference, inputs, { reduction, softcap });
          for (const chunkRows of [1, 3, 4, 11, 64, undefined]) {
            const ours = run((h, w, t, o) => linearCrossEntropy(h, w, t, { ...o, chunkRows }), inputs, {
              reduction,
              softcap,
            });
            const where = `${reduction}, softcap ${softcap}, chunkRows ${chunkRows}`;
            expect(ours.loss.dtype, where).toBe(dtype);
            expect(maxDiff(ours.loss, expected.loss), where).toBeLessThan(tolerance);
            ours.grads.forEach((g, i) => {
              expect(g!.dtype, `${where}: gradient ${i}`).toBe(dtype);
              expect(maxDiff(g!, expected.grads[i]!), `${where}: gradient ${i}`).toBeLessThan(tolerance);
            });
          }
        }
      }
    });
  }

  it('without a bias, with a frozen weight, and int32 targets', () => {
    const hidden = randn([6, 4]).setRequiresGrad(true);
    const weight = randn([9, 4]);
    const target = ids([8, 0, -100, 3, 3, 1], 'int32');
    const ours = linearCrossEntropy(hidden, weight, target, { chunkRows: 4 });
    ours.backward();
    const mine = hidden.grad!;
    hidden.grad = null;
    const expected = reference(hidden, weight, target, { reduction: 'mean' });
    expected.backward();
    expect(Math.abs(ours.item() - expected.item())).toBeLessThan(1e-6);
    expect(maxDiff(mine, hidden.grad!)).toBeLessThan(1e-6);
    expect(weight.grad).toBeNull();
  });

  it('a custom ignoreIndex; every target ignored gives NaN (mean), 0 (sum) and zero gradients', () => {
    const hidden = randn([3, 4]).setRequiresGrad(true);
    const weight = randn([5, 4]);
    const some = linearCrossEntropy(hidden, weight, ids([4, -1, 0]), { ignoreIndex: -1, chunkRows: 2 });
    const expected = reference(hidden, weight, ids([4, -1, 0]), { reduction: 'mean', ignoreIndex: -1 });
    expect(Math.abs(some.item() - expected.item())).toBeLessThan(1e-6);
    const none = ids([-100, -100, -100]);
    expect(linearCrossEntropy(hidden, weight, none).item()).toBeNaN();
    const sum = linearCrossEntropy(hidden, weight, none, { reduction: 'sum', chunkRows: 2 });
    expect(sum.item()).toBe(0);
    sum.backward();
    expect(Array.from(hidden.grad!.toArray() as Float32Array)).toEqual(new Array(12).fill(0));
  });

  it('no rows: an empty per-row loss, a zero sum and a NaN mean', () => {
    const hidden = zeros([0, 3]);
    const weight = randn([4, 3]);
    expect(linearCrossEntropy(hidden, weight, ids([]), { reduction: 'none' }).shape).toEqual([0]);
    expect(linearCrossEntropy(hidden, weight, ids([]), { reduction: 'sum' }).item()).toBe(0);
    expect(linearCrossEntropy(hidden, weight, ids([])).item()).toBeNaN();
  });

  it('bfloat16 inputs: the product in bfloat16, the loss in float32, gradients in bfloat16', () => {
    const hidden = randn([10, 8]).cast('bfloat16');
    const weight = randn([12, 8]).cast('bfloat16');
    const target = ids([0, 11, 5, -100, 2, 2, 7, 1, 9, 3]);
    const inputs = { hidden, weight, bias: null, target };
    const expected = run(reference, inputs, { reduction: 'mean', softcap: 3 });
    const ours = run((h, w, t, o) => linearCrossEntropy(h, w, t, { ...o, chunkRows: 3 }), inputs, {
      reduction: 'mean',
      softcap: 3,
    });
    expect(ours.loss.dtype).toBe('float32');
    expect(maxDiff(ours.loss, expected.loss)).toBeLessThan(1e-6);
    expect(ours.grads[0]!.dtype).toBe('bfloat16');
    expect(ours.grads[1]!.dtype).toBe('bfloat16');
    // The composed path rounds the cap's backward to bfloat16 step by step; ours once.
    for (const i of [0, 1]) {
      const reference = expected.grads[i]!.float();
      const scale = reference.abs().max().item();
      expect(maxDiff(ours.grads[i]!.float(), reference)).toBeLessThan(2e-2 * scale);
    }
  });

  it('no graph without grad: a plain value under noGrad', () => {
    const hidden = randn([4, 3]).setRequiresGrad(true);
    const loss = noGrad(() => linearCrossEntropy(hidden, randn([5, 3]), ids([1, 2, 3, 4])));
    expect(loss.requiresGrad).toBe(false);
    expect(loss.gradNode).toBeNull();
  });
});

describe('linearCrossEntropy errors', () => {
  // Made on the js backend inside each test: host checks throw at the op (a device defers bounds).
  const fixture = () => ({ hidden: zeros([4, 3]), weight: zeros([5, 3]), target: ids([0, 1, 2, 3]) });
  type Fixture = ReturnType<typeof fixture>;
  const cases: [(t: Fixture) => unknown, Error][] = [
    [
      (t) => linearCrossEntropy(zeros([2, 2, 3]), t.weight, t.target),
      new ShapeError('[linearCrossEntropy] hidden must be [rows, features], received [2, 2, 3]'),
    ],
    [
      (t) => linearCrossEntropy(t.hidden, zeros([5, 2]), t.target),
      new ShapeError('[linearCrossEntropy] weight must be [vocab, 3] for hidden [4, 3], received [5, 2]'),
    ],
    [
      (t) => linearCrossEntropy(t.hidden, zeros([15]), t.target),
      new ShapeError('[linearCrossEntropy] weight must be [vocab, 3] for hidden [4, 3], received [15]'),
    ],
    [
      (t) => linearCrossEntropy(t.hidden, t.weight, ids([0, 1, 2])),
      new ShapeError('[linearCrossEntropy] target must be [4] (one class per row of hidden), received [3]'),
    ],
    [
      (t) => linearCrossEntropy(t.hidden, t.weight, t.target.reshape(4, 1)),
      new ShapeError(
        '[linearCrossEntropy] target must be [4] (one class per row of hidden), received [4, 1]',
      ),
    ],
    [
      (t) => linearCrossEntropy(t.hidden, t.weight, t.target, { bias: zeros([3]) }),
      new ShapeError('[linearCrossEntropy] bias must be [5] (one per row of weight), received [3]'),
    ],
    [
      (t) => linearCrossEntropy(t.hidden, t.weight, zeros([4])),
      new DtypeError(
        '[linearCrossEntropy] target must hold class indices (int64 or int32), received float32',
      ),
    ],
    [
      (t) => linearCrossEntropy(ids([1, 2]).reshape(1, 2), t.weight, t.target),
      new DtypeError(
        '[linearCrossEntropy] hidden must be floating-point (float32, float64, float16 or bfloat16), received int64',
      ),
    ],
    [
      (t) => linearCrossEntropy(t.hidden, zeros([5, 3], { dtype: 'int32' }), t.target),
      new DtypeError(
        '[linearCrossEntropy] weight must be floating-point (float32, float64, float16 or bfloat16), received int32',
      ),
    ],
    [
      (t) => linearCrossEntropy(t.hidden, t.weight, ids([0, 5, 1, 2])),
      new ShapeError('[linearCrossEntropy] target 5 is out of range for 5 classes (ignore_index is -100)'),
    ],
    [
      (t) => linearCrossEntropy(t.hidden, t.weight, ids([0, -1, 1, 2])),
      new ShapeError('[linearCrossEntropy] target -1 is out of range for 5 classes (ignore_index is -100)'),
    ],
    [
      (t) => linearCrossEntropy(t.hidden, t.weight, t.target, { chunkRows: 0 }),
      new TensorError('[linearCrossEntropy] chunkRows must be a positive integer, received 0'),
    ],
    [
      (t) => linearCrossEntropy(t.hidden, t.weight, t.target, { chunkRows: 2.5 }),
      new TensorError('[linearCrossEntropy] chunkRows must be a positive integer, received 2.5'),
    ],
    [
      (t) => linearCrossEntropy(t.hidden, t.weight, t.target, { softcap: -1 }),
      new TensorError('[linearCrossEntropy] softcap must be a positive number or null, received -1'),
    ],
    [
      (t) => linearCrossEntropy(t.hidden, t.weight, t.target, { reduction: 'avg' as Reduction }),
      new TensorError('[linearCrossEntropy] reduction must be one of mean, sum, none, received "avg"'),
    ],
    [
      (t) => linearCrossEntropy(t.hidden, t.weight, t.target, { ignoreIndex: 0.5 }),
      new TensorError('[linearCrossEntropy] ignoreIndex must be an integer, received 0.5'),
    ],
    [
      (t) => linearCrossEntropy(t.hidden, 'W' as unknown as Tensor, t.target),
      new TensorError('[linearCrossEntropy] weight must be a Tensor, received string W'),
    ],
  ];
  it.each(cases.map(([fn, error]) => [error.message, fn, error] as const))('%s', (_, fn, error) => {
    withBackend('js', () => {
      const t = fixture();
      expect(() => fn(t)).toThrow(error);
      expect(() => fn(t)).toThrow(error.constructor as new () => Error);
    });
  });
});

describe('linearCrossEntropy default chunk', () => {
  it('keeps one chunk of logits within 256 MiB in the loss dtype, in multiples of 64 rows', () => {
    expect(LINEAR_CROSS_ENTROPY_CHUNK_BYTES).toBe(256 * 2 ** 20);
    expect(linearCrossEntropyChunkRows(151936)).toBe(384); // 384·151936·4 B = 223 MiB
    expect(linearCrossEntropyChunkRows(151936, 'float64')).toBe(192);
    expect(linearCrossEntropyChunkRows(32000)).toBe(2048);
    expect(linearCrossEntropyChunkRows(2 ** 26)).toBe(1);
    expect(linearCrossEntropyChunkRows(2 ** 21)).toBe(32);
  });
});

/**
 * A JS backend that counts the bytes of live storages (kernel results not yet disposed) and their peak:
 * proof that no [rows, vocab] tensor is made.
 */
function meteredBackend(name: string): Backend & { peakFrom(now: boolean): number } {
  const inner = createJsBackend(name) as unknown as Record<string, unknown>;
  const sizes = new Map<unknown, number>();
  let live = 0;
  let peak = 0;
  const track = (value: unknown): void => {
    if (ArrayBuffer.isView(value)) {
      if (!sizes.has(value)) {
        sizes.set(value, value.byteLength);
        live += value.byteLength;
        peak = Math.max(peak, live);
      }
    } else if (value && typeof value === 'object') {
      for (const part of Object.values(value)) track(part);
    }
  };
  const metered: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(inner)) {
    if (typeof value !== 'function') metered[key] = value;
    else if (key === 'dispose') {
      metered[key] = (storage: unknown) => {
        live -= sizes.get(storage) ?? 0;
        sizes.delete(storage);
        return (value as (s: unknown) => unknown).call(inner, storage);
      };
    } else {
      metered[key] = (...args: unknown[]) => {
        const out = (value as (...a: unknown[]) => unknown).apply(inner, args);
        track(out);
        return out;
      };
    }
  }
  return Object.assign(metered as unknown as Backend, {
    /** The peak since the last reset (`now`: reset the peak to the current live bytes first). */
    peakFrom(now: boolean) {
      if (now) peak = live;
      return peak;
    },
  });
}

describe('linearCrossEntropy memory', () => {
  const name = 'metered-lce';
  const backend = meteredBackend(name);
  beforeAll(() => registerBackend(backend, -3));
  afterAll(() => unregisterBackend(name));

  it('holds one chunk of logits at a time, in the forward and in backward (the composed path holds all)', () => {
    withBackend(name, () => {
      const [rows, vocab, features, chunk] = [64, 500, 4, 4];
      const logitsBytes = rows * vocab * 4;
      const hidden = randn([rows, features]).setRequiresGrad(true);
      const weight = randn([vocab, features]).setRequiresGrad(true);
      const target = ids(Array.from({ length: rows }, (_, i) => (i * 37) % vocab));
      for (const reduction of ['mean', 'none'] as const) {
        const start = backend.peakFrom(true);
        const loss = linearCrossEntropy(hidden, weight, target, { reduction, chunkRows: chunk });
        (reduction === 'none' ? loss.sum() : loss).backward();
        // A few chunk-sized tensors at once (scores, log-probabilities, their gradient), and the
        // weight's gradient; never the whole logits.
        const used = backend.peakFrom(false) - start;
        expect(used, reduction).toBeLessThan(6 * chunk * vocab * 4 + 3 * weight.size * 4 + 4 * rows * 8);
        expect(used, reduction).toBeLessThan(logitsBytes / 3);
      }
      const start = backend.peakFrom(true);
      reference(hidden, weight, target, { reduction: 'mean' }).backward();
      expect(backend.peakFrom(false) - start).toBeGreaterThanOrEqual(2 * logitsBytes);
    });
  });
});

describe('linearCrossEntropy on a device-like backend (opaque)', () => {
  const name = 'opaque-lce';
  const backend = createOpaqueBackend(name);
  beforeAll(() => registerBackend(backend, -2));
  afterAll(() => unregisterBackend(name));
  const on = <T>(fn: () => T): T => withBackend(name, fn);

  it('checks targets and counts non-ignored rows on the device: no host read, the host values', () => {
    const h = randn([5, 3], { backend: 'js' });
    const w = randn([4, 3], { backend: 'js' });
    const values = [h.toArray() as Float32Array, w.toArray() as Float32Array];
    const targets = [3, -100, 0, 1, -100];
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const host = withBackend('js', () =>
        linearCrossEntropy(h, w, ids(targets), { reduction, chunkRows: 2 }),
      );
      const device = on(() => {
        const hidden = tensor(values[0]!, { shape: [5, 3] }).setRequiresGrad(true);
        const weight = tensor(values[1]!, { shape: [4, 3] });
        const before = backend.transfers.toHost;
        const loss = linearCrossEntropy(hidden, weight, ids(targets), { reduction, chunkRows: 2 });
        (reduction === 'none' ? loss.sum() : loss).backward();
        expect(backend.transfers.toHost).toBe(before);
        return loss;
      });
      expect(maxDiff(device.toBackend('js'), host)).toBeLessThan(1e-6);
    }
  });

  it('a bad target fails at the next host read', () => {
    on(() => {
      const loss = linearCrossEntropy(randn([2, 3]), randn([4, 3]), ids([1, 4]));
      expect(() => loss.item()).toThrow(
        new ShapeError('[linearCrossEntropy] target 4 is out of range for 4 classes (ignore_index is -100)'),
      );
    });
  });
});
