import type { Tensor } from '@lorakit/tensor';
import { ModuleError } from '../errors.js';
import { type AnyModule, Module } from '../module.js';

/** An indexable list of modules, registered under "0", "1", … (transformers' `layers.0`). */
export class ModuleList<M extends AnyModule = AnyModule> extends Module<[], never> {
  constructor(modules: readonly M[] = []) {
    super();
    for (const [i, m] of modules.entries()) this.registerModule(String(i), m);
  }
  get length(): number {
    return this.namedChildren().length;
  }
  at(index: number): M {
    return this.child<M>(String(index < 0 ? this.length + index : index));
  }
  push(module: M): void {
    this.registerModule(String(this.length), module);
  }
  *[Symbol.iterator](): Iterator<M> {
    for (const [, m] of this.namedChildren()) yield m as M;
  }
  forward(): never {
    throw new ModuleError('[ModuleList] has no forward; iterate over it');
  }
}

/** Modules by name (PEFT's per-adapter `lora_A`, `lora_B`). */
export class ModuleDict<M extends AnyModule = AnyModule> extends Module<[], never> {
  constructor(modules: Record<string, M> = {}) {
    super();
    for (const [name, m] of Object.entries(modules)) this.registerModule(name, m);
  }
  get(name: string): M {
    return this.child<M>(name);
  }
  has(name: string): boolean {
    return this.hasChild(name);
  }
  set(name: string, module: M): void {
    this.registerModule(name, module);
  }
  delete(name: string): void {
    this.removeChild(name);
  }
  keys(): string[] {
    return this.namedChildren().map(([n]) => n);
  }
  forward(): never {
    throw new ModuleError('[ModuleDict] has no forward; pick a module by name');
  }
}

/** Modules applied one after another. */
export class Sequential extends Module {
  constructor(modules: readonly Module[]) {
    super();
    for (const [i, m] of modules.entries()) this.registerModule(String(i), m);
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const [, m] of this.namedChildren()) y = (m as Module).call(y);
    return y;
  }
}
