/**
 * The layers of the lorakit workspace, bottom to top — the one place the package graph is written
 * down (ARCHITECTURE.md explains it). A package may depend only on packages of layers beneath its own;
 * `devOnly` names lower layers a layer may use only in devDependencies (tests, benchmarks).
 *
 * Backends and plugins are not listed by name: a package is a backend when its package.json declares
 * `"lorakit": { "backend": … }` and a plugin when it declares `"lorakit": { "plugin": … }`, so adding
 * one changes nothing here; examples are placed by their folder.
 */
export interface Layer {
  readonly name: string;
  /** What lives here and why it sits where it does (for messages). */
  readonly role: string;
  /** Packages placed here by name (backends and plugins are placed by their declaration). */
  readonly packages: readonly string[];
  /** Folders whose every package sits here unless placed otherwise (e.g. `examples/`). */
  readonly folders?: readonly string[];
  /** Lower layers this one may use in devDependencies only. */
  readonly devOnly?: readonly string[];
  /** When set, the only layers this one may use at all (the rest of "beneath" is off limits). */
  readonly only?: readonly string[];
}

export const LAYERS: readonly Layer[] = [
  {
    name: 'tooling',
    role: 'shared development configuration and helpers (tsconfig, vitest config, bench helpers)',
    packages: ['@lorakit/tsconfig', '@lorakit/vitest-config', '@lorakit/bench-tools'],
  },
  { name: 'format', role: 'the safetensors format', packages: ['@lorakit/safetensors'] },
  {
    name: 'tensor',
    role: 'tensors, autograd, the backend contract and registry',
    packages: ['@lorakit/tensor'],
  },
  {
    name: 'backend',
    role: 'a backend implements the contract of @lorakit/tensor and nothing else',
    packages: [],
    only: ['tooling', 'tensor'],
  },
  {
    name: 'nn',
    role: 'modules, layers, optimizers',
    packages: ['@lorakit/nn'],
    devOnly: ['backend'],
  },
  {
    name: 'models',
    role: 'Hugging Face model families, loading and saving',
    packages: ['@lorakit/models'],
    devOnly: ['backend'],
  },
  {
    name: 'adapters',
    role: 'LoRA and its registries; works on any nn module, so models only in tests',
    packages: ['@lorakit/lora'],
    devOnly: ['backend', 'models'],
  },
  {
    name: 'plugin',
    role: 'init and merge strategies registered with lora; any nn module, so models only in tests',
    packages: [],
    devOnly: ['backend', 'models'],
  },
  {
    name: 'app',
    role: 'programs that put the layers together and choose a backend (CLI, conformance, benchmarks)',
    packages: ['@lorakit/cli', '@lorakit/conformance', '@lorakit/benchmarks'],
  },
  {
    name: 'example',
    role: 'runnable examples of using lorakit, the CLI included',
    packages: [],
    folders: ['examples/'],
  },
  { name: 'docs', role: 'the documentation site, which documents the apps too', packages: ['@lorakit/docs'] },
];
