import type { Tensor } from '@lorakit/tensor';
import { listNames, ModuleError, StateDictError } from './errors.js';
import { Parameter } from './parameter.js';

export type ForwardPreHook = (module: AnyModule, args: unknown[]) => unknown[] | undefined;
export type ForwardHook = (module: AnyModule, args: unknown[], output: unknown) => unknown;

/** A module of any forward signature (for containers and tree walks). */
// biome-ignore lint/suspicious/noExplicitAny: forward signatures are contravariant; any is the honest top type here
export type AnyModule = Module<any, any>;

export interface HookHandle {
  remove(): void;
}

export interface LoadStateDictOptions {
  /** Require the keys to match exactly (default true). */
  readonly strict?: boolean;
  /** Replace parameters by the given tensors instead of copying into them (no copy; default true). */
  readonly assign?: boolean;
}

export interface LoadStateDictResult {
  readonly missing: string[];
  readonly unexpected: string[];
}

/**
 * The base of every layer and model. A module holds named children, parameters and buffers in
 * registration order — the names are exactly the Hugging Face names (`q_proj`, `layers.0`), so dotted
 * paths match transformers' state dicts and PEFT's target names. Subclasses implement `forward`;
 * callers use `call`, which also runs forward hooks.
 */
export abstract class Module<In extends unknown[] = [Tensor], Out = Tensor> {
  training = true;
  readonly #children = new Map<string, AnyModule>();
  readonly #parameters = new Map<string, Parameter | null>();
  readonly #buffers = new Map<string, { tensor: Tensor | null; persistent: boolean }>();
  readonly #preHooks = new Set<ForwardPreHook>();
  readonly #hooks = new Set<ForwardHook>();

  abstract forward(...args: In): Out;

  /** Runs forward pre-hooks, `forward`, then forward hooks (which may replace the output). */
  call(...args: In): Out {
    if (this.#preHooks.size === 0 && this.#hooks.size === 0) return this.forward(...args);
    let actual: unknown[] = args;
    for (const hook of this.#preHooks) actual = hook(this, actual) ?? actual;
    let output: unknown = this.forward(...(actual as In));
    for (const hook of this.#hooks) {
      const replaced = hook(this, actual, output);
      if (replaced !== undefined) output = replaced;
    }
    return output as Out;
  }

  registerForwardPreHook(hook: ForwardPreHook): HookHandle {
    this.#preHooks.add(hook);
    return { remove: () => this.#preHooks.delete(hook) };
  }

  registerForwardHook(hook: ForwardHook): HookHandle {
    this.#hooks.add(hook);
    return { remove: () => this.#hooks.delete(hook) };
  }

  // ── registration ──────────────────────────────────────────────────────────
  registerModule<M extends AnyModule>(name: string, module: M): M {
    this.#checkName(name);
    this.#children.set(name, module);
    return module;
  }

  registerParameter(name: string, parameter: Parameter | null): Parameter | null {
    this.#checkName(name);
    if (parameter !== null && !(parameter instanceof Parameter)) {
      throw new ModuleError(
        `[${this.constructor.name}] parameter "${name}" must be a Parameter (wrap tensors with new Parameter(t))`,
      );
    }
    this.#parameters.set(name, parameter);
    return parameter;
  }

  registerBuffer(name: string, tensor: Tensor | null, persistent = true): Tensor | null {
    this.#checkName(name);
    this.#buffers.set(name, { tensor, persistent });
    return tensor;
  }

  #checkName(name: string): void {
    if (typeof name !== 'string' || name.length === 0 || name.includes('.')) {
      throw new ModuleError(
        `[${this.constructor.name}] a child name must be a non-empty string without dots, received ${JSON.stringify(name)}`,
      );
    }
  }

  // ── access ────────────────────────────────────────────────────────────────
  /** A direct child by name. */
  child<M extends AnyModule = AnyModule>(name: string): M {
    const child = this.#children.get(name);
    if (!child) {
      throw new ModuleError(
        `[${this.constructor.name}] has no submodule "${name}"; children: ${listNames([...this.#children.keys()])}`,
      );
    }
    return child as M;
  }

  hasChild(name: string): boolean {
    return this.#children.has(name);
  }

  /** Removes a direct child (adapter deletion). */
  removeChild(name: string): void {
    this.#children.delete(name);
  }

  /** Removes a direct parameter. */
  removeParameter(name: string): void {
    this.#parameters.delete(name);
  }

  /** A direct parameter by name (null for a declared-but-absent one, like a bias-free Linear's bias). */
  param(name: string): Parameter | null {
    if (!this.#parameters.has(name)) {
      throw new ModuleError(
        `[${this.constructor.name}] has no parameter "${name}"; parameters: ${listNames([...this.#parameters.keys()])}`,
      );
    }
    return this.#parameters.get(name)!;
  }

  buffer(name: string): Tensor | null {
    const entry = this.#buffers.get(name);
    if (!entry) throw new ModuleError(`[${this.constructor.name}] has no buffer "${name}"`);
    return entry.tensor;
  }

  namedChildren(): [string, AnyModule][] {
    return [...this.#children.entries()];
  }

  /** Direct parameters including declared-null ones. */
  ownParameters(): [string, Parameter | null][] {
    return [...this.#parameters.entries()];
  }

  /** Every module in the tree, depth first, with its dotted path ('' for this one). Each module once. */
  namedModules(prefix = '', seen = new Set<AnyModule>()): [string, AnyModule][] {
    if (seen.has(this)) return [];
    seen.add(this);
    const out: [string, AnyModule][] = [[prefix, this]];
    for (const [name, child] of this.#children) {
      out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name, seen));
    }
    return out;
  }

  /** Parameters with dotted names; a parameter shared by several modules appears once (first name). */
  namedParameters(options: { removeDuplicate?: boolean } = {}): [string, Parameter][] {
    const removeDuplicate = options.removeDuplicate ?? true;
    const seen = new Set<Parameter>();
    const out: [string, Parameter][] = [];
    const modules = removeDuplicate ? this.namedModules() : this.#allModules('');
    for (const [path, module] of modules) {
      for (const [name, p] of module.#parameters) {
        if (!p || (removeDuplicate && seen.has(p))) continue;
        seen.add(p);
        out.push([path ? `${path}.${name}` : name, p]);
      }
    }
    return out;
  }

  #allModules(prefix: string): [string, AnyModule][] {
    const out: [string, AnyModule][] = [[prefix, this]];
    for (const [name, child] of this.#children)
      out.push(...child.#allModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [path, module] of this.namedModules()) {
      for (const [name, entry] of module.#buffers)
        if (entry.tensor) out.push([path ? `${path}.${name}` : name, entry.tensor]);
    }
    return out;
  }

  /** The module at a dotted path ('' is this module). */
  getSubmodule<M extends AnyModule = AnyModule>(path: string): M {
    if (path === '') return this as unknown as M;
    let current: AnyModule = this;
    for (const part of path.split('.')) {
      if (!current.#children.has(part)) {
        throw new ModuleError(
          `[getSubmodule] "${path}" does not exist: ${current === this ? 'the model' : `"${part}"'s parent`} has children ${listNames([...current.#children.keys()])}`,
        );
      }
      current = current.#children.get(part)!;
    }
    return current as M;
  }

  /** Replaces the module at a dotted path (LoRA injection and unloading use this). */
  setSubmodule(path: string, module: AnyModule): void {
    const dot = path.lastIndexOf('.');
    const parent = dot < 0 ? this : this.getSubmodule(path.slice(0, dot));
    const name = path.slice(dot + 1);
    if (!parent.#children.has(name)) {
      throw new ModuleError(
        `[setSubmodule] "${path}" does not exist; children of its parent: ${listNames([...parent.#children.keys()])}`,
      );
    }
    parent.#children.set(name, module);
  }

  /** Replaces (or creates) a parameter by its dotted path. */
  setParameter(path: string, parameter: Parameter | null): void {
    const dot = path.lastIndexOf('.');
    const owner = dot < 0 ? this : this.getSubmodule(path.slice(0, dot));
    owner.registerParameter(path.slice(dot + 1), parameter);
  }

  // ── modes ─────────────────────────────────────────────────────────────────
  train(mode = true): this {
    for (const [, module] of this.namedModules()) module.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Sets requiresGrad on every parameter. */
  requiresGrad(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad = flag;
    return this;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  // ── state dict ────────────────────────────────────────────────────────────
  /** Parameters and persistent buffers by dotted name (shared tensors appear under every name). */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [path, module] of this.#allModules('')) {
      for (const [name, p] of module.#parameters) if (p) out.set(path ? `${path}.${name}` : name, p);
      for (const [name, entry] of module.#buffers) {
        if (entry.tensor && entry.persistent) out.set(path ? `${path}.${name}` : name, entry.tensor);
      }
    }
    return out;
  }

  /**
   * Loads tensors by dotted name. Strict by default: missing keys, unexpected keys and shape
   * mismatches are one error that lists them all. Shape mismatches are errors even when not strict.
   */
  loadStateDict(
    state: ReadonlyMap<string, Tensor> | Record<string, Tensor>,
    options: LoadStateDictOptions = {},
  ): LoadStateDictResult {
    const entries = state instanceof Map ? state : new Map(Object.entries(state));
    const strict = options.strict ?? true;
    const assign = options.assign ?? true;
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !entries.has(k));
    const unexpected = [...entries.keys()].filter((k) => !own.has(k));
    const mismatched: string[] = [];
    for (const [key, value] of entries) {
      const target = own.get(key);
      if (
        target &&
        (target.shape.length !== value.shape.length || target.shape.some((d, i) => d !== value.shape[i]))
      ) {
        mismatched.push(
          `${key}: checkpoint [${value.shape.join(', ')}] vs model [${target.shape.join(', ')}]`,
        );
      }
    }
    if (mismatched.length > 0 || (strict && (missing.length > 0 || unexpected.length > 0))) {
      const parts: string[] = [];
      if (mismatched.length) parts.push(`shape mismatches: ${listNames(mismatched)}`);
      if (strict && missing.length) parts.push(`missing keys: ${listNames(missing)}`);
      if (strict && unexpected.length) parts.push(`unexpected keys: ${listNames(unexpected)}`);
      throw new StateDictError(
        `[loadStateDict] ${this.constructor.name}: ${parts.join('; ')}`,
        missing,
        unexpected,
        mismatched,
      );
    }
    for (const [key, value] of entries) {
      const target = own.get(key);
      if (!target) continue;
      const dot = key.lastIndexOf('.');
      const owner = dot < 0 ? this : this.getSubmodule(key.slice(0, dot));
      const name = key.slice(dot + 1);
      const converted = value.dtype === target.dtype ? value : value.cast(target.dtype);
      if (owner.#parameters.has(name)) {
        const previous = owner.#parameters.get(name)!;
        if (assign) {
          const replacement = new Parameter(converted.detach(), previous.requiresGrad);
          // Keep ties: every module holding the same Parameter object gets the replacement.
          for (const [, module] of this.#allModules('')) {
            for (const [n, p] of module.#parameters)
              if (p === previous) module.#parameters.set(n, replacement);
          }
        } else previous.assign(converted);
      } else {
        const entry = owner.#buffers.get(name)!;
        if (assign) entry.tensor = converted.detach();
        else entry.tensor!.assign(converted);
      }
    }
    return { missing, unexpected };
  }

  /** Number of parameters (shared ones counted once). */
  numParameters(options: { trainableOnly?: boolean } = {}): number {
    let n = 0;
    for (const p of this.parameters()) if (!options.trainableOnly || p.requiresGrad) n += p.size;
    return n;
  }
}
