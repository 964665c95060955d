import { type InitCalibration, type InitMethod, registerInitMethod } from '@lorakit/lora';
import { cordaConfig } from './corda/corda-config.js';
import { preprocessCorda } from './corda/preprocess-corda.js';
import { InitError } from './errors.js';

function needCalibration(method: string, calibration: InitCalibration | undefined): InitCalibration {
  if (!calibration || calibration.sequences.length === 0) {
    throw new InitError(`[${method}] needs calibration data: at least one tokenized example, received none`);
  }
  return calibration;
}

/** How front ends (the lorakit CLI's `init`) offer this package's inits. */
export const SVD_INIT_METHODS: readonly InitMethod[] = [
  {
    name: 'pissa',
    summary: 'PiSSA: the adapter takes the top singular components of each weight (base keeps the rest)',
    inputs: [
      {
        name: 'niter',
        description: 'PiSSA: fast randomized SVD with n subspace iterations (pissa_niter_n)',
        type: 'integer',
        min: 1,
      },
    ],
    configure(config, values) {
      config.initLoraWeights = values.niter === undefined ? 'pissa' : `pissa_niter_${values.niter}`;
    },
  },
  {
    name: 'olora',
    summary: 'OLoRA: the adapter takes a QR factor of each weight (base keeps the rest)',
    configure(config) {
      config.initLoraWeights = 'olora';
    },
  },
  {
    name: 'corda',
    summary: 'CorDA: components of each weight by the covariance of its inputs on calibration data',
    calibration: true,
    inputs: [
      {
        name: 'corda-method',
        description: 'CorDA: ipm (instruction-previewed) or kpm (knowledge-preserved)',
        type: 'string',
        choices: ['ipm', 'kpm'],
        default: 'ipm',
      },
    ],
    configure(config, values) {
      config.initLoraWeights = 'corda';
      config.cordaConfig = cordaConfig({ cordaMethod: values['corda-method'] === 'kpm' ? 'kpm' : 'ipm' });
    },
    async beforeInjection(model, config, run) {
      const { sequences } = needCalibration('corda', run.calibration);
      // CorDA's covariances are averaged over forward calls of one sequence each (PEFT's protocol).
      await preprocessCorda(model, config, () => {
        for (const inputs of sequences) model.call(inputs);
      });
      run.log(`CorDA: covariances from ${sequences.length} calibration sequences`);
    },
  },
  {
    name: 'orthogonal',
    summary: 'orthogonal: A and B from one random orthogonal matrix, so B·A = 0 at the start',
    configure(config) {
      config.initLoraWeights = 'orthogonal';
    },
  },
];

/** Registers {@link SVD_INIT_METHODS} with @lorakit/lora; importing the package does this. */
export function registerSvdInitMethods(): void {
  for (const method of SVD_INIT_METHODS) registerInitMethod(method);
}
