import { type InitMethod, registeredInitMethods, registerInitMethod } from '@lorakit/lora';

/** How front ends (the lorakit CLI's `init`) offer LoftQ. */
export const loftqInitMethod: InitMethod = {
  name: 'loftq',
  summary: 'LoftQ: alternates quantizing the base and fitting the adapter to the quantization error',
  inputs: [
    { name: 'loftq-bits', description: 'LoftQ: 4 (NF4) or 8 (int8)', type: 'integer', min: 1, default: 4 },
    { name: 'loftq-iter', description: 'LoftQ: alternating iterations', type: 'integer', min: 1, default: 1 },
  ],
  configure(config, values) {
    config.initLoraWeights = 'loftq';
    config.loftqConfig = { loftq_bits: values['loftq-bits'] ?? 4, loftq_iter: values['loftq-iter'] ?? 1 };
  },
};

/** Registers {@link loftqInitMethod} with @lorakit/lora (idempotent); importing the package does this. */
export function registerLoftqInitMethod(): void {
  if (!registeredInitMethods().some((m) => m.name === loftqInitMethod.name))
    registerInitMethod(loftqInitMethod);
}
