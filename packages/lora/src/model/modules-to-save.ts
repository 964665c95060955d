import { type AnyModule, Module, ModuleDict } from '@lorakit/nn';
import { cat, type Tensor } from '@lorakit/tensor';
import { AdapterError } from '../errors.js';
import { BASE_ADAPTER, currentAdapterNames } from '../layers/adapter-context.js';

/**
 * PEFT's ModulesToSaveWrapper: a module trained and saved whole. Each adapter gets a deep copy
 * (`modules_to_save.<adapter>`); the frozen original stays as `original_module`. At most one adapter is
 * active; disabled or inactive, the original runs.
 */
export class ModulesToSaveWrapper extends Module<unknown[], unknown> {
  activeAdapter: string | undefined;
  disabled = false;
  readonly adapters = new Set<string>();

  constructor(original: AnyModule) {
    super();
    this.registerModule('original_module', original);
    this.registerModule('modules_to_save', new ModuleDict());
    original.requiresGrad(false);
  }

  get original(): AnyModule {
    return this.child('original_module');
  }

  copyFor(adapter: string): AnyModule {
    return this.child<ModuleDict>('modules_to_save').get(adapter);
  }

  addAdapter(adapter: string): void {
    const copy = this.original.deepCopy();
    copy.requiresGrad(false);
    this.child<ModuleDict>('modules_to_save').set(adapter, copy);
    this.adapters.add(adapter);
  }

  deleteAdapter(adapter: string): void {
    this.child<ModuleDict>('modules_to_save').delete(adapter);
    this.adapters.delete(adapter);
    if (this.activeAdapter === adapter) this.activeAdapter = undefined;
  }

  /** Activates at most one of `names` present here; its copy becomes trainable unless inferenceMode. */
  setAdapter(names: readonly string[], inferenceMode = false): void {
    const present = names.filter((n) => this.adapters.has(n));
    if (present.length > 1) {
      throw new AdapterError(
        `[lora] Only one adapter can be set at a time for modules_to_save, received ${present.join(', ')}`,
      );
    }
    for (const adapter of this.adapters) this.copyFor(adapter).requiresGrad(false);
    this.activeAdapter = present[0];
    if (this.activeAdapter !== undefined && !inferenceMode)
      this.copyFor(this.activeAdapter).requiresGrad(true);
  }

  enableAdapters(enabled: boolean): void {
    this.disabled = !enabled;
    if (this.activeAdapter !== undefined) this.copyFor(this.activeAdapter).requiresGrad(enabled);
  }

  /** The module that runs now. */
  current(): AnyModule {
    if (this.disabled || this.activeAdapter === undefined || !this.adapters.has(this.activeAdapter))
      return this.original;
    return this.copyFor(this.activeAdapter);
  }

  /**
   * The module that replaces this wrapper when the model is unloaded (PEFT's
   * `unload_and_optionally_merge_module`): for modules_to_save the active copy, merged or not.
   */
  unloadModule(_merge: boolean): AnyModule {
    return this.current();
  }

  forward(...args: unknown[]): unknown {
    const rows = currentAdapterNames();
    if (rows && !this.disabled) return this.mixedBatchForward(rows, args);
    return this.current().call(...args);
  }

  private mixedBatchForward(rows: readonly string[], args: unknown[]): unknown {
    const x = args[0] as Tensor;
    const outputs: Tensor[] = [];
    for (let i = 0; i < rows.length; i++) {
      const name = rows[i]!;
      const module = name === BASE_ADAPTER || !this.adapters.has(name) ? this.original : this.copyFor(name);
      const row = x.narrow(0, i, 1);
      outputs.push(module.call(row, ...args.slice(1)) as Tensor);
    }
    return cat(outputs, 0);
  }
}
