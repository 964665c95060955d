import { getPeftModel, LoraConfig, loadAdapter, NoMatchingModuleError } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import { LorakitError } from '@lorakit/tensor';

/** Every lorakit error is a LorakitError subclass: catch a kind, or all of lorakit's errors. */
export async function tryTargets(modelDir: string, targetModules: string[]) {
  const model = await loadModel(modelDir);
  try {
    return getPeftModel(model, new LoraConfig({ r: 8, targetModules }));
  } catch (error) {
    if (error instanceof NoMatchingModuleError) {
      // The message lists the model's linear modules: pick names from it.
      console.error(error.message);
      return undefined;
    }
    throw error;
  }
}

/** Common mistakes and the error each one raises (the troubleshooting page lists their messages). */
export async function commonMistakes(modelDir: string, emptyDir: string) {
  const attempts: [string, () => unknown][] = [
    [
      'a misspelled target module',
      async () => getPeftModel(await loadModel(modelDir), new LoraConfig({ targetModules: ['q_prj'] })),
    ],
    [
      'a rank of 0',
      async () =>
        getPeftModel(await loadModel(modelDir), new LoraConfig({ r: 0, targetModules: ['q_proj'] })),
    ],
    ['a folder that is not an adapter', async () => loadAdapter(await loadModel(modelDir), emptyDir)],
    ['a folder that is not a model', () => loadModel(emptyDir)],
    [
      'an init whose plugin is not imported',
      async () =>
        getPeftModel(
          await loadModel(modelDir),
          new LoraConfig({ targetModules: ['q_proj'], initLoraWeights: 'pissa' }),
        ),
    ],
    ['a PEFT feature lorakit does not implement', () => new LoraConfig({ useQalora: true })],
  ];
  const found: { mistake: string; kind: string; message: string }[] = [];
  for (const [mistake, attempt] of attempts) {
    try {
      await attempt();
      found.push({ mistake, kind: '(no error)', message: '' });
    } catch (error) {
      if (!(error instanceof LorakitError)) throw error; // anything else is a bug: report it
      found.push({ mistake, kind: error.constructor.name, message: error.message });
    }
  }
  return found;
}
