import { findInitStrategy, registeredInitStrategies, registerInitStrategy } from '@lorakit/lora';
import { describe, expect, it } from 'vitest';
import './index.js';

describe('registration', () => {
  it('importing the package registers its strategies with @lorakit/lora', () => {
    expect(registeredInitStrategies()).toEqual([
      'kaiming',
      'gaussian',
      'false',
      'pissa',
      'pissa_niter',
      'olora',
      'corda',
      'orthogonal',
    ]);
  });

  it("selects strategies with PEFT's string tests", () => {
    const selected = (value: string) => findInitStrategy(value)?.name;
    expect(selected('pissa')).toBe('pissa');
    expect(selected('pissa_niter_4')).toBe('pissa_niter');
    expect(selected('pissa_whatever')).toBe('pissa_niter'); // parsed, then rejected, as PEFT's startswith
    expect(selected('PiSSA')).toBeUndefined();
    expect(selected('OLoRA')).toBe('olora');
    expect(selected('corda_ipm')).toBe('corda');
    expect(selected('orthogonal')).toBe('orthogonal');
    expect(selected('Orthogonal')).toBeUndefined();
    for (const name of ['pissa', 'pissa_niter', 'olora', 'corda'])
      expect(findInitStrategy(name === 'pissa_niter' ? 'pissa_niter_1' : name)?.modifiesBaseWeight).toBe(
        true,
      );
    expect(findInitStrategy('orthogonal')?.modifiesBaseWeight).toBeFalsy();
  });

  it('a second registration of a name throws (the registry’s rule)', () => {
    expect(() => registerInitStrategy({ name: 'pissa', kinds: ['linear'], initialize() {} })).toThrow(
      '[registerInitStrategy] an init strategy named "pissa" is already registered; registered: kaiming, gaussian, false, pissa, pissa_niter, olora, corda, orthogonal',
    );
  });
});
