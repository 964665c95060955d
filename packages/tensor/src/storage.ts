import type { Backend } from './backend/kernels.js';
import { BackendError, TensorError } from './errors.js';

/**
 * A backend storage shared by a tensor and its views. Only backends look inside `value`; the rest of
 * lorakit passes it back to kernels untouched. `refs` counts the live tensors viewing it so that
 * disposing a view does not free memory its base still uses.
 */
export class StorageBox {
  #value: unknown;
  #refs = 0;
  #version = 0;

  constructor(
    readonly backend: Backend,
    value: unknown,
  ) {
    this.#value = value;
  }

  get value(): unknown {
    if (this.#value === undefined)
      throw new BackendError('[tensor] this tensor was disposed and its memory released');
    return this.#value;
  }

  get disposed(): boolean {
    return this.#value === undefined;
  }

  /** How many in-place writes this storage has had (see {@link Tensor.version}). */
  get version(): number {
    return this.#version;
  }

  /** Called by every op that writes into existing memory. */
  bumpVersion(): void {
    this.#version++;
  }

  retain(): void {
    this.#refs++;
  }

  release(): void {
    if (--this.#refs <= 0 && this.#value !== undefined) {
      this.backend.dispose(this.#value);
      this.#value = undefined;
    }
  }
}

type Scope = Set<{ dispose(): void; kept: boolean }>;
const scopes: Scope[] = [];

/** Called by every new tensor: a tidy scope, if one is open, takes note of it. */
export function trackInScope(tensor: { dispose(): void; kept: boolean }): void {
  scopes[scopes.length - 1]?.add(tensor);
}

/**
 * @internal Starts collecting every tensor created from now on into a fresh set, until
 * {@link closeCollection} with the same set (the autograd engine uses it to find its temporaries).
 * Nested `tidy` scopes inside keep working; tensors they keep end up in this set.
 */
export function openCollection(): Set<{ dispose(): void; kept: boolean }> {
  const scope: Scope = new Set();
  scopes.push(scope);
  return scope;
}

/** @internal Ends {@link openCollection}; scopes must close in the reverse order they opened. */
export function closeCollection(scope: Scope): void {
  if (scopes[scopes.length - 1] !== scope)
    throw new TensorError('[tensor] tensor collections closed out of order');
  scopes.pop();
}

/**
 * Runs `fn` and disposes every tensor created inside it except those it returns (a tensor, or an array
 * or object of tensors) and those marked with `keep()`. GC frees host memory on its own; `tidy` is for
 * device memory that GC cannot see.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Scope = new Set();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const keep = new Set<unknown>();
  collect(result, keep);
  for (const tensor of scope) {
    if (keep.has(tensor) || tensor.kept) {
      trackInScope(tensor);
      continue;
    }
    tensor.dispose();
  }
  return result;
}

function collect(value: unknown, out: Set<unknown>): void {
  if (value === null || typeof value !== 'object') return;
  if (out.has(value)) return;
  out.add(value);
  if (Array.isArray(value)) for (const v of value) collect(v, out);
  else if (value.constructor === Object) for (const v of Object.values(value)) collect(v, out);
}
