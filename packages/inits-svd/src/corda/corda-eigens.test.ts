import { eye, manualSeed, randn, tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { expectClose, expectCloseUpToSign, references } from '../../test/helpers.js';
import { cordaDecomposition, cropCordaEigens, invertSymmetric } from './corda-eigens.js';

describe('cordaDecomposition', () => {
  const { tensors, cases } = references();

  it('matches PEFT’s collect_eigens_for_layer + crop (ipm: largest, kpm: smallest components)', () => {
    for (const name of ['corda_ipm', 'corda_kpm', 'corda_kpm_few_tokens']) {
      const { r, method, inverses } = cases[name] as { r: number; method: 'ipm' | 'kpm'; inverses: number };
      const full = cordaDecomposition(tensors.get(`${name}.weight`)!, tensors.get(`${name}.covariance`)!);
      expect(full.damping).toBe(0.01 * 2 ** (inverses - 1));
      const eigens = cropCordaEigens(full, r, method);
      const s = tensors.get(`${name}.S`)!;
      expectClose(eigens.s, s, 2e-5 * s.max().item(), `${name} S`);
      expectCloseUpToSign(eigens.u, tensors.get(`${name}.U`)!, 1, 2e-5, `${name} U`);
      // V = (Vh·C⁻¹)ᵀ carries the damped covariance's condition number (up to 1 + 100·in), so PEFT's
      // float32 inverse is accurate to ~κ·ε₃₂ relative; 1e-4 of max |V| covers κ ≈ 1200 here.
      const v = tensors.get(`${name}.V`)!;
      expectCloseUpToSign(eigens.v, v, 1, 1e-4 * v.abs().max().item(), `${name} V`);
    }
  });

  it('doubles the damping until the damped covariance inverts accurately (PEFT inverted twice)', () => {
    const { inverses } = cases.corda_damped as { inverses: number };
    expect(inverses).toBe(2);
    const weight = tensors.get('corda_damped.weight')!;
    const full = cordaDecomposition(weight, tensors.get('corda_damped.covariance')!);
    expect(full.damping).toBe(0.02);
    expectClose(full.s, tensors.get('corda_damped.S')!, 2e-5, 'S');
    expectCloseUpToSign(full.u, tensors.get('corda_damped.U')!, 1, 2e-5, 'U');
    expectCloseUpToSign(full.v, tensors.get('corda_damped.V')!, 1, 2e-4, 'V');
  });

  it('decomposes W exactly: W = U·diag(S)·Vᵀ over all components', () => {
    manualSeed(0);
    const weight = randn([6, 9]);
    const x = randn([30, 9]);
    const full = cordaDecomposition(weight, x.T.matmul(x).div(30));
    expectClose(full.u.mul(full.s.unsqueeze(0)).matmul(full.v.T), weight, 2e-5, 'W');
    expectClose(full.u.T.matmul(full.u), eye(6), 2e-6, 'UᵀU = I');
  });

  it('rejects mismatched shapes and a zero covariance', () => {
    expect(() => cordaDecomposition(randn([3, 4]), randn([5, 5]))).toThrow(
      '[cordaDecomposition] needs W [out, in] and C [in, in], received W [3, 4] and C [5, 5]',
    );
    expect(() => cordaDecomposition(randn([3, 4]), randn([4, 4]).mul(0))).toThrow(
      "[cordaDecomposition] the covariance's mean diagonal is 0; it must be a positive number (were the calibration inputs all zero?)",
    );
  });
});

describe('cordaDecomposition input checks', () => {
  it('rejects a covariance with non-finite entries', () => {
    const covariance = tensor([
      [1, Number.NaN, 0],
      [Number.NaN, 1, 0],
      [0, 0, 1],
    ]);
    expect(() => cordaDecomposition(randn([2, 3]), covariance)).toThrow(
      '[cordaDecomposition] the covariance has NaN or infinite entries',
    );
  });
});

describe('cropCordaEigens', () => {
  it('rejects ranks outside [1, min(out, in)]', () => {
    const full = cordaDecomposition(randn([3, 4]), eye(4));
    expect(() => cropCordaEigens(full, 4, 'ipm')).toThrow(
      '[cropCordaEigens] rank must be an integer in [1, 3] (the layer has 3 components), received 4',
    );
  });
});

describe('invertSymmetric', () => {
  it('inverts a symmetric positive definite matrix', () => {
    manualSeed(1);
    const x = randn([12, 5]);
    const matrix = x.T.matmul(x).add(eye(5).mul(0.1));
    expectClose(matrix.matmul(invertSymmetric(matrix)), eye(5), 1e-5);
  });
});
