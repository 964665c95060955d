import { afterEach, describe, expect, it } from 'vitest';
import { LoraConfig } from '../config/lora-config.js';
import {
  getInitMethod,
  type InitMethod,
  registeredInitMethods,
  registerInitMethod,
  unregisterInitMethod,
} from './init-methods.js';

const scaled: InitMethod = {
  name: 'scaled-normal',
  summary: 'A ~ N(0, scale²), B = 0',
  inputs: [{ name: 'scale-exponent', description: 'scale = 10^-n', type: 'integer', min: 1, default: 2 }],
  configure(config) {
    config.initLoraWeights = 'scaled-normal';
  },
};

afterEach(() => {
  for (const name of ['scaled-normal', 'bad', 'Bad']) unregisterInitMethod(name);
});

describe('init methods', () => {
  it('are found by name and configure the LoRA config', () => {
    registerInitMethod(scaled);
    expect(registeredInitMethods().map((m) => m.name)).toContain('scaled-normal');
    const config = new LoraConfig({ targetModules: ['q_proj'] });
    getInitMethod('scaled-normal').configure(config, { 'scale-exponent': 3 });
    expect(config.initLoraWeights).toBe('scaled-normal');
  });

  it('reject unknown names listing the registered ones, and duplicates', () => {
    registerInitMethod(scaled);
    expect(() => getInitMethod('nope')).toThrow(
      `[getInitMethod] no init method named "nope"; registered: ${registeredInitMethods()
        .map((m) => m.name)
        .join(', ')}`,
    );
    expect(() => registerInitMethod(scaled)).toThrow(
      '[registerInitMethod] an init method named "scaled-normal" is already registered; registered: ',
    );
  });

  it('reject names and inputs a command line cannot carry', () => {
    expect(() => registerInitMethod({ ...scaled, name: 'Bad' })).toThrow(
      '[registerInitMethod] method names are kebab-case (they are typed on command lines), received "Bad"',
    );
    expect(() =>
      registerInitMethod({
        ...scaled,
        name: 'bad',
        inputs: [{ name: 'scale_exp', description: '', type: 'integer' }],
      }),
    ).toThrow(
      '[registerInitMethod] "bad" input "scale_exp": the name must be kebab-case (e.g. "loftq-bits")',
    );
    expect(() =>
      registerInitMethod({
        ...scaled,
        name: 'bad',
        inputs: [{ name: 'n', description: '', type: 'float' as 'integer' }],
      }),
    ).toThrow(`[registerInitMethod] "bad" input "n": type must be 'integer' or 'string', received "float"`);
    expect(() =>
      registerInitMethod({
        ...scaled,
        name: 'bad',
        inputs: [{ name: 'n', description: '', type: 'integer', default: 'two' }],
      }),
    ).toThrow('[registerInitMethod] "bad" input "n": default "two" is not of type integer');
    const twice = { name: 'n', description: '', type: 'integer' } as const;
    expect(() => registerInitMethod({ ...scaled, name: 'bad', inputs: [twice, twice] })).toThrow(
      '[registerInitMethod] "bad" declares input "n" twice',
    );
    expect(registeredInitMethods().map((m) => m.name)).not.toContain('bad');
  });
});
