import { type InitMethod, registerInitMethod } from '@lorakit/lora';
import { EvaError } from './errors.js';
import { evaConfig } from './eva-config.js';
import { initializeLoraEvaWeights } from './initialize-eva-weights.js';

/** How front ends (the lorakit CLI's `init`) offer EVA: calibration batches after injection, as in PEFT. */
export const evaInitMethod: InitMethod = {
  name: 'eva',
  summary:
    'EVA: A from the principal components of each layer’s inputs on calibration data, ranks redistributed',
  calibration: true,
  configure(config) {
    config.initLoraWeights = 'eva';
    config.evaConfig = config.evaConfig ?? evaConfig();
  },
  async afterInjection(peft, run) {
    const batches = run.calibration?.batches ?? [];
    if (batches.length === 0) {
      throw new EvaError(
        '[eva] needs calibration data: at least one batch of tokenized examples, received none',
      );
    }
    // EVA cycles through the data until every layer's components have converged: show how many have.
    const bar = run.progress('eva');
    await initializeLoraEvaWeights(peft, batches, {
      onProgress: ({ step, convergedLayers, totalLayers }) => {
        bar.setTotal(totalLayers);
        bar.update(convergedLayers, `batch ${step}`);
      },
    });
    bar.finish();
    run.log(
      `EVA: components from ${run.calibration!.sequences.length} calibration examples in ${batches.length} batches`,
    );
  },
};

/** Registers {@link evaInitMethod} with @lorakit/lora; importing the package does this. */
export function registerEvaInitMethod(): void {
  registerInitMethod(evaInitMethod);
}
