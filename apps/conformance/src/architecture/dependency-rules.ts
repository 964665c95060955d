import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAYERS, type Layer } from './layers.js';

const KINDS = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'] as const;
type DependencyKind = (typeof KINDS)[number];

/** A workspace package as its package.json describes it. */
export interface WorkspacePackage {
  /** Folder relative to the repository root, e.g. `packages/lora`. */
  readonly dir: string;
  readonly manifest: {
    readonly name?: string;
    readonly lorakit?: { readonly backend?: unknown; readonly plugin?: unknown };
  } & Partial<Record<DependencyKind, Record<string, string>>>;
}

/** The layer of a package: a backend or plugin by its declaration, any other by name or folder. */
export function layerOf(pkg: WorkspacePackage, layers: readonly Layer[] = LAYERS): Layer | undefined {
  const declared = pkg.manifest.lorakit;
  if (declared?.backend !== undefined) return layers.find((l) => l.name === 'backend');
  if (declared?.plugin !== undefined) return layers.find((l) => l.name === 'plugin');
  return (
    layers.find((l) => l.packages.includes(pkg.manifest.name ?? '')) ??
    layers.find((l) => l.folders?.some((folder) => `${pkg.dir}/`.startsWith(folder)))
  );
}

/**
 * Every broken rule of the graph, one sentence each naming the edge: a package depends (in any kind of
 * dependency) only on workspace packages of layers beneath its own; a layer with `only` uses just those
 * layers (backends: tensor, plus tooling); a layer's `devOnly` layers appear in devDependencies alone;
 * and every package has a layer.
 */
export function dependencyViolations(
  packages: readonly WorkspacePackage[],
  layers: readonly Layer[] = LAYERS,
): string[] {
  const rank = new Map(layers.map((l, i) => [l.name, i]));
  const byName = new Map(packages.map((p) => [p.manifest.name ?? p.dir, p]));
  const violations: string[] = [];
  for (const pkg of packages) {
    const name = pkg.manifest.name ?? pkg.dir;
    const layer = layerOf(pkg, layers);
    if (!layer) {
      violations.push(
        `${name} (${pkg.dir}) has no layer: declare "lorakit": { "backend": … } or { "plugin": … } in its package.json, or add it to a layer in apps/conformance/src/architecture/layers.ts`,
      );
      continue;
    }
    for (const kind of KINDS) {
      for (const dependency of Object.keys(pkg.manifest[kind] ?? {})) {
        const target = byName.get(dependency);
        if (!target) continue; // not a workspace package
        const targetLayer = layerOf(target, layers);
        if (!targetLayer) continue; // reported on its own
        const edge = `${name} (${layer.name}) → ${dependency} (${targetLayer.name}) in ${kind}`;
        const below = rank.get(targetLayer.name)! < rank.get(layer.name)!;
        if (layer.only && !layer.only.includes(targetLayer.name)) {
          violations.push(
            `${edge}: ${layer.name} packages may depend only on ${layer.only.join(' and ')} — ${layer.role}`,
          );
        } else if (!below && targetLayer.name !== 'tooling') {
          violations.push(
            `${edge}: a package may depend only on layers beneath its own (${layers
              .slice(0, rank.get(layer.name))
              .map((l) => l.name)
              .join(', ')})`,
          );
        } else if (kind !== 'devDependencies' && layer.devOnly?.includes(targetLayer.name)) {
          violations.push(
            `${edge}: ${layer.name} may use ${targetLayer.name} in devDependencies only — ${layer.role}`,
          );
        }
      }
    }
  }
  return violations;
}

/** The workspace's package folders, from pnpm-workspace.yaml (`dir/*` and plain folder entries). */
export function readWorkspace(root: string): WorkspacePackage[] {
  const yaml = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  const block = yaml.split(/^packages:\s*$/m)[1]?.split(/^\S/m)[0] ?? '';
  const patterns = [...block.matchAll(/^\s*-\s*['"]?([^'"\s#]+)['"]?/gm)].map((m) => m[1]!);
  const dirs = patterns.flatMap((pattern) =>
    pattern.endsWith('/*')
      ? readdirSync(join(root, pattern.slice(0, -2)), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => `${pattern.slice(0, -2)}/${entry.name}`)
      : [pattern],
  );
  return dirs
    .filter((dir) => existsSync(join(root, dir, 'package.json')))
    .sort()
    .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) }));
}
