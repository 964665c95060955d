import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AutogradError,
  arange,
  BackendError,
  broadcastShapes,
  cat,
  eye,
  full,
  getBackend,
  linspace,
  noGrad,
  ones,
  registerBackend,
  ShapeError,
  stack,
  tensor,
  tidy,
  zeros,
} from './index.js';
import { describeEachBackend } from './testing/backends.js';
import { createOpaqueBackend } from './testing/opaque-backend.js';

describeEachBackend('tensor basics', () => {
  it('creates tensors from nested arrays, typed arrays and scalars', () => {
    expect(
      tensor([
        [1, 2],
        [3, 4],
      ]).shape,
    ).toEqual([2, 2]);
    expect(tensor(new Int32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] }).dtype).toBe('int32');
    expect(tensor(3.5).shape).toEqual([]);
    expect(tensor(3.5).item()).toBe(3.5);
    expect(tensor([true, false]).dtype).toBe('bool');
    expect(tensor([1n, 2n]).dtype).toBe('int64');
    expect(Array.from(tensor([1, 2], { dtype: 'int64' }).toArray() as BigInt64Array)).toEqual([1n, 2n]);
    expect(arange(5).toList()).toEqual([0, 1, 2, 3, 4]);
    expect(arange(1, 2, 0.25).toList()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(linspace(0, 1, 5).toList()).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(eye(2, 3).toList()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
    ]);
    expect(full([2], 7, { dtype: 'int32' }).toList()).toEqual([7, 7]);
  });

  it('rejects ragged and mis-sized data', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(
      '[tensor] nested arrays are ragged: expected 2 elements at depth 1, received 1',
    );
    expect(() => tensor(new Float32Array(5), { shape: [2, 3] })).toThrow(
      '[tensor] shape [2, 3] needs 6 elements but the data has 5',
    );
    expect(() => tensor([1], { dtype: 'float8' as never })).toThrow(
      '[tensor] unknown dtype "float8"; valid dtypes: float32, float64, float16, bfloat16, int32, int64, bool',
    );
  });

  it('views share memory and follow strides', () => {
    const x = arange(24, undefined, 1, { dtype: 'float32' }).reshape(2, 3, 4);
    const t = x.permute(2, 0, 1);
    expect(t.shape).toEqual([4, 2, 3]);
    expect(t.isContiguous).toBe(false);
    expect(t.contiguous().toArray().slice(0, 6)).toEqual(new Float32Array([0, 4, 8, 12, 16, 20]));
    expect(x.narrow(2, 1, 2).select(0, 1).toList()).toEqual([
      [13, 14],
      [17, 18],
      [21, 22],
    ]);
    expect(x.reshape(-1, 4).shape).toEqual([6, 4]);
    expect(x.T.reshape(2, -1).shape).toEqual([2, 12]);
    expect(tensor([1, 2]).reshape(2, 1).expand(2, 3).toList()).toEqual([
      [1, 1, 1],
      [2, 2, 2],
    ]);
    expect(x.unsqueeze(1).shape).toEqual([2, 1, 3, 4]);
    expect(x.unsqueeze(-1).shape).toEqual([2, 3, 4, 1]);
    expect(ones([1, 3, 1]).squeeze().shape).toEqual([3]);
    expect(x.flatten(1).shape).toEqual([2, 12]);
    expect(x.split([1, 2], 1).map((p) => p.shape)).toEqual([
      [2, 1, 4],
      [2, 2, 4],
    ]);
    expect(x.chunk(3, 2).map((p) => p.shape[2])).toEqual([2, 2]);
    expect(cat([ones([1, 2]), zeros([2, 2])]).toList()).toEqual([
      [1, 1],
      [0, 0],
      [0, 0],
    ]);
    expect(stack([ones([2]), zeros([2])], 1).toList()).toEqual([
      [1, 0],
      [1, 0],
    ]);
  });

  it('writes in place for optimizers, through views', () => {
    const w = zeros([2, 3]);
    w.narrow(1, 1, 2).assign(tensor([5, 6]));
    expect(w.toList()).toEqual([
      [0, 5, 6],
      [0, 5, 6],
    ]);
    w.zero();
    expect(w.sum().item()).toBe(0);
  });

  it('errors name the op, the argument and the numbers', () => {
    expect(() => tensor([[1, 2, 3]]).matmul(tensor([[1, 2]]))).toThrow(ShapeError);
    expect(() => zeros([4, 3]).matmul(zeros([5, 2]))).toThrow(
      '[matmul] inner dimensions differ: a is [4, 3], b is [5, 2]',
    );
    expect(() => zeros([2, 3]).add(zeros([4]))).toThrow(
      '[add] shapes [2, 3] and [4] cannot be broadcast: dimension -1 is 3 vs 4',
    );
    expect(() => zeros([2, 3]).reshape(4, 2)).toThrow(
      '[reshape] cannot reshape [2, 3] (6 elements) into [4, 2]',
    );
    expect(() => zeros([2, 3]).sum(2)).toThrow(
      '[sum] dim 2 is out of range for a tensor of rank 2 (valid: -2 to 1)',
    );
    expect(() => zeros([2, 3]).narrow(1, 2, 2)).toThrow(
      '[narrow] start 2 and length 2 do not fit dimension 1 of size 3 (shape [2, 3])',
    );
    // Thrown by the op on host backends, at the next host read on device-like ones (opaque).
    expect(() =>
      zeros([3])
        .gather(0, tensor([3], { dtype: 'int64' }))
        .toArray(),
    ).toThrow('[gather] index 3 is out of range for dimension 0 of size 3');
    expect(() => zeros([2]).item()).toThrow('[item] needs a tensor with one element, received shape [2]');
    expect(() => cat([zeros([2, 2]), zeros([2, 3])])).toThrow(
      '[cat] shapes [2, 2], [2, 3] differ outside dimension 0',
    );
  });

  it('type promotion follows PyTorch', () => {
    expect(tensor([1, 2], { dtype: 'int32' }).add(1.5).dtype).toBe('float32');
    expect(tensor([1, 2], { dtype: 'int32' }).add(1).dtype).toBe('int32');
    expect(tensor([1, 2], { dtype: 'int64' }).div(2).toList()).toEqual([0.5, 1]);
    expect(tensor([1], { dtype: 'float32' }).add(tensor([1], { dtype: 'float64' })).dtype).toBe('float64');
    expect(tensor([1], { dtype: 'float16' }).add(tensor([1], { dtype: 'bfloat16' })).dtype).toBe('float32');
    expect(tensor([1, 2]).gt(1).dtype).toBe('bool');
    expect(tensor([1, 2], { dtype: 'int32' }).sum().dtype).toBe('int64');
  });

  it('stores float16 and bfloat16 and computes through float32', () => {
    const h = tensor([1, 0.1, 65504, 70000], { dtype: 'float16' });
    expect(Array.from(h.toArray() as Float32Array)).toEqual([1, 0.0999755859375, 65504, Infinity]);
    const b = tensor([1, 0.1], { dtype: 'bfloat16' });
    expect(Array.from(b.toArray() as Float32Array)).toEqual([1, 0.10009765625]);
    expect(b.mul(2).dtype).toBe('bfloat16');
    expect(Array.from(b.float().mul(2).toArray() as Float32Array)).toEqual([2, 0.2001953125]);
    expect(tensor([2.7, -2.7]).cast('int64').toList()).toEqual([2, -2]);
    expect(tensor([0, 0.5, Number.NaN]).cast('bool').toList()).toEqual([0, 1, 1]);
  });
});

describe('broadcasting (property)', () => {
  it('broadcastShapes agrees with elementwise add shapes', () => {
    const dim = fc.integer({ min: 1, max: 3 });
    fc.assert(
      fc.property(
        fc.array(dim, { maxLength: 3 }),
        fc.array(fc.boolean(), { maxLength: 3 }),
        (shape, ones_) => {
          const other = shape.map((d, i) => (ones_[i] ? 1 : d)).slice(Math.floor(shape.length / 2));
          const expected = broadcastShapes('add', shape, other);
          const a = arange(
            shape.reduce((x, y) => x * y, 1),
            undefined,
            1,
            { dtype: 'float32' },
          ).reshape(shape);
          const b = ones(other);
          const out = a.add(b);
          expect(out.shape).toEqual(expected);
          expect(out.sum().item()).toBeCloseTo(a.sum().item() * (out.size / a.size) + out.size, 6);
        },
      ),
    );
  });
});

describeEachBackend('autograd', () => {
  it('accumulates gradients into leaves and frees the graph', () => {
    const w = tensor([1, 2, 3], { requiresGrad: true });
    const y = w.mul(w).sum();
    y.backward();
    expect(w.grad!.toList()).toEqual([2, 4, 6]);
    w.mul(3).sum().backward();
    expect(w.grad!.toList()).toEqual([5, 7, 9]);
    expect(() => y.backward()).toThrow(AutogradError);
  });

  it('never walks frozen weights', () => {
    const frozen = tensor([
      [1, 2],
      [3, 4],
    ]);
    const x = tensor([1, 1], { requiresGrad: true });
    const y = frozen.matmul(x).sum();
    y.backward();
    expect(frozen.grad).toBeNull();
    expect(x.grad!.toList()).toEqual([4, 6]);
  });

  it('noGrad and detach cut the graph', () => {
    const w = tensor([1, 2], { requiresGrad: true });
    expect(noGrad(() => w.mul(2)).requiresGrad).toBe(false);
    expect(w.detach().requiresGrad).toBe(false);
    expect(() => w.detach().mul(2).sum().backward()).toThrow(
      '[backward] this tensor does not require grad: no input of the computation requires grad, or it ran under noGrad',
    );
    expect(() => w.mul(2).backward()).toThrow(
      '[backward] a gradient is needed for a non-scalar output of shape [2]; pass one or reduce to a scalar first',
    );
    const z = w.mul(2);
    z.backward(tensor([1, 10]));
    expect(w.grad!.toList()).toEqual([2, 20]);
  });

  it('refuses in-place writes into recorded tensors', () => {
    const w = tensor([1, 2], { requiresGrad: true });
    expect(() => w.mul(2).assign(0)).toThrow(
      '[assign] cannot write in place into a tensor produced by a recorded op; detach() it first',
    );
  });
});

describe('opaque storage', () => {
  const opaque = getBackend('opaque') as ReturnType<typeof createOpaqueBackend>;

  it('a training-like chain makes no host transfers until a value is read', () => {
    const x = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { backend: 'opaque', requiresGrad: true },
    );
    const before = { ...opaque.transfers };
    const loss = x.matmul(x.T).softmax(-1).log().neg().mean();
    loss.backward();
    expect(opaque.transfers.fromHost - before.fromHost).toBe(0);
    expect(opaque.transfers.toHost - before.toHost).toBe(0);
    loss.item();
    expect(opaque.transfers.toHost - before.toHost).toBe(1);
  });

  it('tidy disposes what it does not return; views keep storage alive', () => {
    const live = opaque.live();
    const kept = tidy(() => {
      const a = ones([4, 4], { backend: 'opaque' });
      const b = a.matmul(a).add(1);
      return b.reshape(16);
    });
    expect(opaque.live() - live).toBe(1);
    expect(tidy(() => kept.sum().item())).toBe(80);
    const beforeDispose = opaque.live();
    kept.dispose();
    expect(opaque.live()).toBe(beforeDispose - 1);
    expect(() => kept.sum()).toThrow('[tensor] a disposed tensor of shape [16] was used');
  });

  it('mixing backends in one op is an error', () => {
    expect(() => ones([2], { backend: 'opaque' }).add(ones([2], { backend: 'js' }))).toThrow(
      '[add] tensors are on different backends: opaque and js; move them with toBackend() first',
    );
    expect(() => registerBackend(createOpaqueBackend('opaque'))).toThrow(BackendError);
    expect(() => getBackend('no-such-backend')).toThrow(
      '[getBackend] no backend named "no-such-backend"; registered backends:',
    );
  });
});
