import type { Tensor } from '@lorakit/tensor';
import { listNames, ModuleError, StateDictError } from './errors.js';
import { Parameter } from './parameter.js';

/** Runs before `forward`; returning an array replaces the arguments. */
export type ForwardPreHook = (module: AnyModule, args: unknown[]) => unknown[] | undefined;
/** Runs after `forward`; returning a value other than undefined replaces the output. */
export type ForwardHook = (module: AnyModule, args: unknown[], output: unknown) => unknown;

/** A module of any forward signature (for containers and tree walks). */
// biome-ignore lint/suspicious/noExplicitAny: forward signatures are contravariant; any is the honest top type here
export type AnyModule = Module<any, any>;

/** Returned by hook registration; `remove()` unregisters the hook. */
export interface HookHandle {
  remove(): void;
}

/** Options of {@link Module.loadStateDict}. */
export interface LoadStateDictOptions {
  /** Require the keys to match exactly (default true). */
  readonly strict?: boolean;
  /** Replace parameters by the given tensors instead of copying into them (no copy; default true). */
  readonly assign?: boolean;
}

/** Keys that did not match, when loading without `strict`. */
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
  private readonly _children = new Map<string, AnyModule>();
  private readonly _parameters = new Map<string, Parameter | null>();
  private readonly _buffers = new Map<string, { tensor: Tensor | null; persistent: boolean }>();
  private readonly _preHooks = new Set<ForwardPreHook>();
  private readonly _hooks = new Set<ForwardHook>();

  abstract forward(...args: In): Out;

  /** Runs forward pre-hooks, `forward`, then forward hooks (which may replace the output). */
  call(...args: In): Out {
    if (this._preHooks.size === 0 && this._hooks.size === 0) return this.forward(...args);
    let actual: unknown[] = args;
    for (const hook of this._preHooks) actual = hook(this, actual) ?? actual;
    let output: unknown = this.forward(...(actual as In));
    for (const hook of this._hooks) {
      const replaced = hook(this, actual, output);
      if (replaced !== undefined) output = replaced;
    }
    return output as Out;
  }

  /** Whether forward hooks or pre-hooks are registered (fused fast paths must not bypass them). */
  get hasForwardHooks(): boolean {
    return this._preHooks.size > 0 || this._hooks.size > 0;
  }

  registerForwardPreHook(hook: ForwardPreHook): HookHandle {
    this._preHooks.add(hook);
    return { remove: () => this._preHooks.delete(hook) };
  }

  registerForwardHook(hook: ForwardHook): HookHandle {
    this._hooks.add(hook);
    return { remove: () => this._hooks.delete(hook) };
  }

  // ── registration ──────────────────────────────────────────────────────────
  registerModule<M extends AnyModule>(name: string, module: M): M {
    this._checkName(name);
    this._children.set(name, module);
    return module;
  }

  registerParameter(name: string, parameter: Parameter | null): Parameter | null {
    this._checkName(name);
    if (parameter !== null && !(parameter instanceof Parameter)) {
      throw new ModuleError(
        `[${this.constructor.name}] parameter "${name}" must be a Parameter (wrap tensors with new Parameter(t))`,
      );
    }
    this._parameters.set(name, parameter);
    return parameter;
  }

  registerBuffer(name: string, tensor: Tensor | null, persistent = true): Tensor | null {
    this._checkName(name);
    this._buffers.set(name, { tensor, persistent });
    return tensor;
  }

  private _checkName(name: string): void {
    if (typeof name !== 'string' || name.length === 0 || name.includes('.')) {
      throw new ModuleError(
        `[${this.constructor.name}] a child name must be a non-empty string without dots, received ${JSON.stringify(name)}`,
      );
    }
  }

  // ── access ────────────────────────────────────────────────────────────────
  /** A direct child by name. */
  child<M extends AnyModule = AnyModule>(name: string): M {
    const child = this._children.get(name);
    if (!child) {
      throw new ModuleError(
        `[${this.constructor.name}] has no submodule "${name}"; children: ${listNames([...this._children.keys()])}`,
      );
    }
    return child as M;
  }

  hasChild(name: string): boolean {
    return this._children.has(name);
  }

  /** Removes a direct child (adapter deletion). */
  removeChild(name: string): void {
    this._children.delete(name);
  }

  /** Removes a direct parameter. */
  removeParameter(name: string): void {
    this._parameters.delete(name);
  }

  /** A direct parameter by name (null for a declared-but-absent one, like a bias-free Linear's bias). */
  param(name: string): Parameter | null {
    if (!this._parameters.has(name)) {
      throw new ModuleError(
        `[${this.constructor.name}] has no parameter "${name}"; parameters: ${listNames([...this._parameters.keys()])}`,
      );
    }
    return this._parameters.get(name)!;
  }

  buffer(name: string): Tensor | null {
    const entry = this._buffers.get(name);
    if (!entry) throw new ModuleError(`[${this.constructor.name}] has no buffer "${name}"`);
    return entry.tensor;
  }

  namedChildren(): [string, AnyModule][] {
    return [...this._children.entries()];
  }

  /** Direct parameters including declared-null ones. */
  ownParameters(): [string, Parameter | null][] {
    return [...this._parameters.entries()];
  }

  /** Every module in the tree, depth first, with its dotted path ('' for this one). Each module once. */
  namedModules(prefix = '', seen = new Set<AnyModule>()): [string, AnyModule][] {
    if (seen.has(this)) return [];
    seen.add(this);
    const out: [string, AnyModule][] = [[prefix, this]];
    for (const [name, child] of this._children) {
      out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name, seen));
    }
    return out;
  }

  /** Parameters with dotted names; a parameter shared by several modules appears once (first name). */
  namedParameters(options: { removeDuplicate?: boolean } = {}): [string, Parameter][] {
    const removeDuplicate = options.removeDuplicate ?? true;
    const seen = new Set<Parameter>();
    const out: [string, Parameter][] = [];
    const modules = removeDuplicate ? this.namedModules() : this._allModules('');
    for (const [path, module] of modules) {
      for (const [name, p] of module._parameters) {
        if (!p || (removeDuplicate && seen.has(p))) continue;
        seen.add(p);
        out.push([path ? `${path}.${name}` : name, p]);
      }
    }
    return out;
  }

  private _allModules(prefix: string): [string, AnyModule][] {
    const out: [string, AnyModule][] = [[prefix, this]];
    for (const [name, child] of this._children)
      out.push(...child._allModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [path, module] of this.namedModules()) {
      for (const [name, entry] of module._buffers)
        if (entry.tensor) out.push([path ? `${path}.${name}` : name, entry.tensor]);
    }
    return out;
  }

  /** The module at a dotted path ('' is this module). */
  getSubmodule<M extends AnyModule = AnyModule>(path: string): M {
    if (path === '') return this as unknown as M;
    let current: AnyModule = this;
    for (const part of path.split('.')) {
      if (!current._children.has(part)) {
        throw new ModuleError(
          `[getSubmodule] "${path}" does not exist: ${current === this ? 'the model' : `"${part}"'s parent`} has children ${listNames([...current._children.keys()])}`,
        );
      }
      current = current._children.get(part)!;
    }
    return current as M;
  }

  /** Replaces the module at a dotted path (LoRA injection and unloading use this). */
  setSubmodule(path: string, module: AnyModule): void {
    const dot = path.lastIndexOf('.');
    const parent = dot < 0 ? this : this.getSubmodule(path.slice(0, dot));
    const name = path.slice(dot + 1);
    if (!parent._children.has(name)) {
      throw new ModuleError(
        `[setSubmodule] "${path}" does not exist; children of its parent: ${listNames([...parent._children.keys()])}`,
      );
    }
    parent._children.set(name, module);
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
    for (const [path, module] of this._allModules('')) {
      for (const [name, p] of module._parameters) if (p) out.set(path ? `${path}.${name}` : name, p);
      for (const [name, entry] of module._buffers) {
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
      if (owner._parameters.has(name)) {
        const previous = owner._parameters.get(name)!;
        if (assign) {
          const replacement = new Parameter(converted.detach(), previous.requiresGrad);
          // Keep ties: every module holding the same Parameter object gets the replacement.
          for (const [, module] of this._allModules('')) {
            for (const [n, p] of module._parameters)
              if (p === previous) module._parameters.set(n, replacement);
          }
        } else previous.assign(converted);
      } else {
        const entry = owner._buffers.get(name)!;
        if (assign) entry.tensor = converted.detach();
        else entry.tensor!.assign(converted);
      }
    }
    return { missing, unexpected };
  }

  /**
   * A deep copy: the same classes and settings, new children, and parameters/buffers copied into new
   * storage (PEFT's modules_to_save copies). Parameters shared inside the tree stay shared in the copy.
   * Hooks are not copied.
   */
  deepCopy(): this {
    return this._copy(new Map());
  }

  private _copy(copies: Map<unknown, unknown>): this {
    const copy = Object.create(Object.getPrototypeOf(this)) as this;
    for (const key of Object.keys(this)) {
      (copy as Record<string, unknown>)[key] = (this as Record<string, unknown>)[key];
    }
    const self = copy as unknown as {
      _children: Map<string, AnyModule>;
      _parameters: Map<string, Parameter | null>;
      _buffers: Map<string, { tensor: Tensor | null; persistent: boolean }>;
      _preHooks: Set<ForwardPreHook>;
      _hooks: Set<ForwardHook>;
    };
    self._children = new Map();
    self._parameters = new Map();
    self._buffers = new Map();
    self._preHooks = new Set();
    self._hooks = new Set();
    for (const [name, child] of this._children) {
      if (!copies.has(child)) copies.set(child, child._copy(copies));
      self._children.set(name, copies.get(child) as AnyModule);
    }
    for (const [name, p] of this._parameters) {
      if (p && !copies.has(p)) copies.set(p, new Parameter(p.detach().clone(), p.requiresGrad));
      self._parameters.set(name, p ? (copies.get(p) as Parameter) : null);
    }
    for (const [name, entry] of this._buffers) {
      self._buffers.set(name, {
        tensor: entry.tensor ? entry.tensor.clone() : null,
        persistent: entry.persistent,
      });
    }
    return copy;
  }

  /** Number of parameters (shared ones counted once). */
  numParameters(options: { trainableOnly?: boolean } = {}): number {
    let n = 0;
    for (const p of this.parameters()) if (!options.trainableOnly || p.requiresGrad) n += p.size;
    return n;
  }
}
