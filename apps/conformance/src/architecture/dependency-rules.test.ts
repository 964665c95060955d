import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dependencyViolations, layerOf, readWorkspace, type WorkspacePackage } from './dependency-rules.js';

const repositoryRoot = join(import.meta.dirname, '..', '..', '..', '..');

const pkg = (
  dir: string,
  name: string,
  deps: Partial<
    Record<'dependencies' | 'devDependencies' | 'peerDependencies' | 'optionalDependencies', string[]>
  > = {},
  lorakit?: WorkspacePackage['manifest']['lorakit'],
): WorkspacePackage => ({
  dir,
  manifest: {
    name,
    ...(lorakit ? { lorakit } : {}),
    ...Object.fromEntries(
      Object.entries(deps).map(([kind, names]) => [
        kind,
        Object.fromEntries(names.map((n) => [n, 'workspace:*'])),
      ]),
    ),
  },
});

/** A small healthy workspace; each test adds one bad edge to it. */
const healthy = (): WorkspacePackage[] => [
  pkg('tooling/vitest', '@lorakit/vitest-config'),
  pkg('packages/safetensors', '@lorakit/safetensors', { devDependencies: ['@lorakit/vitest-config'] }),
  pkg('packages/tensor', '@lorakit/tensor', { dependencies: ['@lorakit/safetensors'] }),
  pkg('packages/gpu', '@lorakit/gpu-backend', { dependencies: ['@lorakit/tensor'] }, { backend: 'gpu' }),
  pkg('packages/nn', '@lorakit/nn', {
    dependencies: ['@lorakit/tensor'],
    devDependencies: ['@lorakit/gpu-backend'],
  }),
  pkg('packages/models', '@lorakit/models', { dependencies: ['@lorakit/nn'] }),
  pkg('packages/lora', '@lorakit/lora', {
    dependencies: ['@lorakit/nn'],
    devDependencies: ['@lorakit/models'],
  }),
  pkg(
    'packages/quant',
    '@lorakit/quant',
    { dependencies: ['@lorakit/lora'], devDependencies: ['@lorakit/models'] },
    { plugin: 'init' },
  ),
  pkg('packages/extra', '@lorakit/extra', { dependencies: ['@lorakit/lora'] }, { plugin: 'merge' }),
  pkg('apps/cli', '@lorakit/cli', {
    dependencies: ['@lorakit/quant', '@lorakit/models', '@lorakit/gpu-backend'],
  }),
  pkg('examples/demo', '@lorakit/example-demo', { dependencies: ['@lorakit/cli'] }),
];

function withEdge(
  name: string,
  kind: 'dependencies' | 'devDependencies',
  target: string,
): WorkspacePackage[] {
  return healthy().map((p) =>
    p.manifest.name === name
      ? { ...p, manifest: { ...p.manifest, [kind]: { ...p.manifest[kind], [target]: 'workspace:*' } } }
      : p,
  );
}

describe('dependency rules', () => {
  it('hold for every package of this repository', () => {
    const packages = readWorkspace(repositoryRoot);
    expect(packages.map((p) => p.manifest.name)).toEqual(
      expect.arrayContaining(['@lorakit/tensor', '@lorakit/cpu-backend', '@lorakit/lora', '@lorakit/cli']),
    );
    expect(layerOf(packages.find((p) => p.manifest.name === '@lorakit/cpu-backend')!)?.name).toBe('backend');
    expect(dependencyViolations(packages)).toEqual([]);
  });

  it('accept a healthy graph', () => {
    expect(dependencyViolations(healthy())).toEqual([]);
  });

  it('catch an edge that points upward, naming it', () => {
    expect(dependencyViolations(withEdge('@lorakit/nn', 'devDependencies', '@lorakit/lora'))).toEqual([
      '@lorakit/nn (nn) → @lorakit/lora (adapters) in devDependencies: a package may depend only on layers beneath its own (tooling, format, tensor, backend)',
    ]);
  });

  it('catch a backend that depends on anything but tensor, dev dependencies included', () => {
    expect(
      dependencyViolations(withEdge('@lorakit/gpu-backend', 'devDependencies', '@lorakit/models')),
    ).toEqual([
      '@lorakit/gpu-backend (backend) → @lorakit/models (models) in devDependencies: backend packages may depend only on tooling and tensor — a backend implements the contract of @lorakit/tensor and nothing else',
    ]);
    expect(
      dependencyViolations(withEdge('@lorakit/gpu-backend', 'dependencies', '@lorakit/safetensors')),
    ).toEqual([
      '@lorakit/gpu-backend (backend) → @lorakit/safetensors (format) in dependencies: backend packages may depend only on tooling and tensor — a backend implements the contract of @lorakit/tensor and nothing else',
    ]);
  });

  it('catch a plugin that needs models (or a backend) at run time, and plugins that depend on each other', () => {
    expect(dependencyViolations(withEdge('@lorakit/quant', 'dependencies', '@lorakit/models'))).toEqual([
      '@lorakit/quant (plugin) → @lorakit/models (models) in dependencies: plugin may use models in devDependencies only — init and merge strategies registered with lora; any nn module, so models only in tests',
    ]);
    expect(dependencyViolations(withEdge('@lorakit/quant', 'dependencies', '@lorakit/extra'))).toEqual([
      '@lorakit/quant (plugin) → @lorakit/extra (plugin) in dependencies: a package may depend only on layers beneath its own (tooling, format, tensor, backend, nn, models, adapters)',
    ]);
  });

  it('place examples by their folder, and catch a package without a layer', () => {
    expect(layerOf(healthy().at(-1)!)?.name).toBe('example');
    const packages = [...healthy(), pkg('packages/mystery', '@lorakit/mystery')];
    expect(dependencyViolations(packages)).toEqual([
      '@lorakit/mystery (packages/mystery) has no layer: declare "lorakit": { "backend": … } or { "plugin": … } in its package.json, or add it to a layer in apps/conformance/src/architecture/layers.ts',
    ]);
  });
});
