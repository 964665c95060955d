import { type AnyModule, ModuleList } from '@lorakit/nn';
import { AdapterError } from '../errors.js';

/**
 * PEFT's `layer_replication`: rebuilds the decoder's layer list from `[start, end)` ranges. Replicas are
 * deep copies whose parameters are the original Parameter objects (shared storage, counted once);
 * buffers are not shared. `layer_idx` attributes are renumbered and `num_hidden_layers` updated.
 */
export function replicateLayers(model: AnyModule, ranges: readonly (readonly [number, number])[]): void {
  let holder: AnyModule = model;
  while (holder.hasChild('model')) holder = holder.child('model');
  if (holder.hasChild('bert')) holder = holder.child('bert');
  let parent: AnyModule;
  let name: string;
  if (holder.hasChild('layers')) {
    parent = holder;
    name = 'layers';
  } else if (holder.hasChild('encoder') && holder.child('encoder').hasChild('layer')) {
    parent = holder.child('encoder');
    name = 'layer';
  } else if (holder.hasChild('h')) {
    parent = holder;
    name = 'h';
  } else {
    throw new AdapterError(
      '[lora] Could not locate the layers attribute in the model. Expected Llama, Bert or Falcon compatible architectures.',
    );
  }
  const layers = parent.child<ModuleList>(name);
  const replicated: AnyModule[] = [];
  for (const [start, end] of ranges) {
    for (let i = start; i < end; i++) {
      const original = layers.at(i);
      const copy = original.deepCopy();
      const originals = new Map(original.namedParameters({ removeDuplicate: false }));
      for (const [path] of copy.namedParameters({ removeDuplicate: false }))
        copy.setParameter(path, originals.get(path)!);
      for (const [, module] of copy.namedModules()) {
        if ('layerIdx' in module) (module as unknown as { layerIdx: number }).layerIdx = replicated.length;
      }
      replicated.push(copy);
    }
  }
  parent.registerModule(name, new ModuleList(replicated));
  const config = (model as unknown as { config?: Record<string, unknown> }).config;
  if (config && 'num_hidden_layers' in config) config.num_hidden_layers = replicated.length;
}
