import { join } from 'node:path';
import { SafetensorsFile } from '@lorakit/safetensors';
import { describe, expect, it } from 'vitest';
import {
  conv1d,
  conv2d,
  conv3d,
  crossEntropy,
  embedding,
  layerNorm,
  linear,
  rmsNorm,
  type Tensor,
  tensor,
  where,
} from './index.js';
import { describeEachBackend } from './testing/backends.js';

type Case = (...inputs: Tensor[]) => Tensor | Tensor[] | { values: Tensor; indices: Tensor };

/** The same list as test-data/ops/generate.py, as lorakit calls. */
const CASES: Record<string, Case> = {
  neg: (x) => x.neg(),
  abs: (x) => x.abs(),
  exp: (x) => x.exp(),
  log: (x) => x.log(),
  sqrt: (x) => x.sqrt(),
  rsqrt: (x) => x.rsqrt(),
  sin: (x) => x.sin(),
  cos: (x) => x.cos(),
  tanh: (x) => x.tanh(),
  sigmoid: (x) => x.sigmoid(),
  relu: (x) => x.relu(),
  silu: (x) => x.silu(),
  gelu: (x) => x.gelu(),
  gelu_tanh: (x) => x.gelu('tanh'),
  erf: (x) => x.erf(),
  sign: (x) => x.sign(),
  reciprocal: (x) => x.reciprocal(),
  square: (x) => x.square(),
  floor: (x) => x.floor(),
  ceil: (x) => x.ceil(),
  round: (x) => x.round(),
  pow_scalar: (x) => x.pow(2.5),
  clamp: (x) => x.clamp(-0.5, 0.7),
  add: (a, b) => a.add(b!),
  sub: (a, b) => a.sub(b!),
  mul: (a, b) => a.mul(b!),
  div: (a, b) => a.div(b!),
  pow: (a, b) => a.pow(b!),
  maximum: (a, b) => a.maximum(b!),
  minimum: (a, b) => a.minimum(b!),
  eq: (a, b) => a.eq(b!),
  ne: (a, b) => a.ne(b!),
  lt: (a, b) => a.lt(b!),
  le: (a, b) => a.le(b!),
  gt: (a, b) => a.gt(b!),
  ge: (a, b) => a.ge(b!),
  add_alpha: (a, b) => a.add(b!, -2.5),
  where: (c, a, b) => where(c!.gt(0), a!, b!),
  sum_1: (x) => x.sum(1),
  sum_02_keep: (x) => x.sum([0, 2], true),
  sum_all: (x) => x.sum(),
  mean_2: (x) => x.mean(2),
  prod_1: (x) => x.prod(1),
  amax_1: (x) => x.max(1),
  amin_02: (x) => x.min([0, 2]),
  argmax_2: (x) => x.argmax(2),
  argmin_0: (x) => x.argmin(0),
  argmax_all: (x) => x.argmax(),
  var_1: (x) => x.var(1),
  var_c0: (x) => x.var([0, 2], { correction: 0, keepdim: true }),
  std_2: (x) => x.std(2),
  norm2_1: (x) => x.norm(2, 1),
  norm_fro: (x) => x.norm('fro'),
  norm1_2: (x) => x.norm(1, 2),
  norminf_0: (x) => x.norm(Number.POSITIVE_INFINITY, 0),
  norm3_1: (x) => x.norm(3, 1),
  logsumexp_1: (x) => x.logsumexp(1),
  softmax_0: (x) => x.softmax(0),
  softmax_last: (x) => x.softmax(-1),
  log_softmax_1: (x) => x.logSoftmax(1),
  matmul_batch_2d: (a, b) => a.matmul(b!),
  matmul_2d_batch: (a, b) => a.matmul(b!),
  matmul_bcast: (a, b) => a.matmul(b!),
  matmul_vec_mat: (a, b) => a.matmul(b!),
  matmul_mat_vec: (a, b) => a.matmul(b!),
  matmul_vec_vec: (a, b) => a.matmul(b!),
  matmul_transposed: (a, b) => a.T.matmul(b!.T),
  linear: (x, w, b) => linear(x, w!, b!),
  embedding: (ids, w) => embedding(ids, w!),
  index_select_1: (x, i) => x.indexSelect(1, i!),
  gather_1: (x, i) => x.gather(1, i!),
  scatter_add_1: (x, i, s) => x.scatterAdd(1, i!, s!),
  triu_1: (x) => x.triu(1),
  tril_m1: (x) => x.tril(-1),
  conv1d: (x, w, b) => conv1d(x, w!, b!, { stride: 2, padding: 1, dilation: 2, groups: 2 }),
  conv2d: (x, w, b) => conv2d(x, w!, b!, { stride: [2, 1], padding: [1, 2] }),
  conv2d_1x1: (x, w) => conv2d(x, w!),
  conv3d: (x, w, b) => conv3d(x, w!, b!, { padding: 1 }),
  conv2d_unbatched_same: (x, w) => conv2d(x, w!, null, { padding: 'same' }),
  layer_norm: (x, w, b) => layerNorm(x, [6], w!, b!, 1e-5),
  layer_norm_2d: (x) => layerNorm(x, [3, 6]),
  rms_norm: (x, w) => rmsNorm(x, w!, 1e-6),
  cross_entropy_mean: (l, t) => crossEntropy(l, t!),
  cross_entropy_sum: (l, t) => crossEntropy(l, t!, { reduction: 'sum' }),
  cross_entropy_none: (l, t) => crossEntropy(l, t!, { reduction: 'none' }),
  cross_entropy_smooth: (l, t) => crossEntropy(l, t!, { labelSmoothing: 0.1 }),
  cross_entropy_seq: (l, t) => crossEntropy(l, t!),
  sort_desc: (x) => x.sort(-1, true),
  sort_asc_0: (x) => x.sort(0),
  topk: (x) => x.topk(2, 1),
  kthvalue: (x) => x.kthvalue(3, 2),
  quantile_1: (x) => x.quantile(0.3, 1),
  quantile_all: (x) => x.quantile(0.77),
};

const file = SafetensorsFile.open(join(import.meta.dirname, '..', 'test-data', 'ops', 'ops.safetensors'));
const caseNames = [...new Set(file.names().map((n) => n.slice(0, n.lastIndexOf('.'))))].sort();

function load(name: string): Tensor {
  const { data, dtype, shape } = file.readSync(name);
  if (dtype === 'I64') return tensor(data as BigInt64Array, { shape, dtype: 'int64' });
  if (dtype === 'U8') return tensor(Float32Array.from(data as Uint8Array), { shape });
  return tensor(data as Float32Array, { shape, dtype: dtype === 'F64' ? 'float64' : 'float32' });
}

function outputs(result: ReturnType<Case>): Tensor[] {
  if (Array.isArray(result)) return result;
  if ('values' in result) return [result.values, result.indices];
  return [result];
}

describe('op suite case list', () => {
  it('matches the generator', () => {
    expect(Object.keys(CASES).sort()).toEqual(caseNames);
  });
});

describeEachBackend('ops against PyTorch', () => {
  it.each(caseNames)('%s', (name) => {
    const inputs: Tensor[] = [];
    for (let i = 0; file.has(`${name}.in${i}`); i++) inputs.push(load(`${name}.in${i}`));
    const got = outputs(CASES[name]!(...inputs));
    for (let i = 0; file.has(`${name}.out${i}`); i++) {
      const want = file.readSync(`${name}.out${i}`);
      const out = got[i]!;
      expect(out.shape, `${name}.out${i} shape`).toEqual(want.shape);
      const actual = Array.from(out.toArray() as ArrayLike<number | bigint>, Number);
      const expected = Array.from(want.data as ArrayLike<number | bigint>, Number);
      for (let k = 0; k < expected.length; k++) {
        const e = expected[k]!;
        const a = actual[k]!;
        if (Number.isNaN(e)) expect(a, `${name}.out${i}[${k}]`).toBeNaN();
        else
          expect(Math.abs(a - e), `${name}.out${i}[${k}]: ${a} vs ${e}`).toBeLessThanOrEqual(
            2e-5 + 2e-5 * Math.abs(e),
          );
      }
    }
  });
});
