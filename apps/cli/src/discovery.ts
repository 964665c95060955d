import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from './demo/package-root.js';

/**
 * What a lorakit package says about itself in its package.json under `"lorakit"`: a backend
 * (`{ "backend": "cpu", "priority": 10 }`) or a plugin (`{ "plugin": "init" }`).
 */
export interface LorakitPackage {
  /** The npm name, e.g. `@lorakit/cpu-backend`. */
  readonly name: string;
  /** The backend it registers on import, if it is a backend package. */
  readonly backend?: string;
  /** The priority it registers its backend with (higher wins under `--backend auto`). */
  readonly priority: number;
  /** What it registers on import, if it is a plugin package (`init`, `merge`, …). */
  readonly plugin?: string;
}

interface Manifest {
  readonly name?: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly lorakit?: { readonly backend?: unknown; readonly priority?: unknown; readonly plugin?: unknown };
}

function readManifest(path: string): Manifest {
  return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
}

/** The installed package.json of `name` as Node would find the package from `fromDir`, if installed. */
function installedManifest(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The lorakit packages among the dependencies and optional dependencies of the package at `root` (the
 * CLI's by default) that are installed, with what their package.json declares. An optional dependency
 * that is not installed (e.g. a GPU backend on a machine without the GPU) is simply absent. Nothing is
 * imported here.
 */
export function lorakitPackages(root: string = packageRoot()): LorakitPackage[] {
  const own = readManifest(join(root, 'package.json'));
  const names = [...Object.keys(own.dependencies ?? {}), ...Object.keys(own.optionalDependencies ?? {})];
  const found: LorakitPackage[] = [];
  for (const name of [...new Set(names)].sort()) {
    const path = installedManifest(name, root);
    const meta = path ? readManifest(path).lorakit : undefined;
    if (!meta) continue;
    found.push({
      name,
      ...(typeof meta.backend === 'string' ? { backend: meta.backend } : {}),
      priority: typeof meta.priority === 'number' ? meta.priority : 0,
      ...(typeof meta.plugin === 'string' ? { plugin: meta.plugin } : {}),
    });
  }
  return found;
}

/** The installed backend packages, highest priority first. */
export function backendPackages(root?: string): (LorakitPackage & { readonly backend: string })[] {
  return lorakitPackages(root)
    .filter((p): p is LorakitPackage & { backend: string } => p.backend !== undefined)
    .sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name));
}

/** The installed plugin packages (init strategies, merge strategies, …), by name. */
export function pluginPackages(root?: string): LorakitPackage[] {
  return lorakitPackages(root).filter((p) => p.plugin !== undefined);
}
