import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A lorakit package among the runner's dependencies, with what its package.json's `"lorakit"` declares. */
export interface LorakitPackage {
  readonly name: string;
  /** The backend it registers on import (`"lorakit": { "backend": "cpu", "priority": 10 }`). */
  readonly backend?: string;
  readonly priority: number;
  /** What it registers on import when it is a plugin (`"lorakit": { "plugin": "init" }`). */
  readonly plugin?: string;
}

interface Manifest {
  readonly name?: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly lorakit?: { readonly backend?: unknown; readonly priority?: unknown; readonly plugin?: unknown };
}

const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Manifest;

/** This package's folder (found upwards from this file). */
export function runnerRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && read(manifest).name === '@lorakit/conformance') return dir;
    if (dirname(dir) === dir) throw new Error('cannot find the @lorakit/conformance package folder');
  }
}

function installed(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(manifest)) return manifest;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The installed lorakit packages among the dependencies and optional dependencies of the package at
 * `root` — the same declaration the CLI reads, so a new backend or plugin package needs no change here.
 */
export function lorakitPackages(root: string = runnerRoot()): LorakitPackage[] {
  const own = read(join(root, 'package.json'));
  const names = new Set([
    ...Object.keys(own.dependencies ?? {}),
    ...Object.keys(own.optionalDependencies ?? {}),
  ]);
  const found: LorakitPackage[] = [];
  for (const name of [...names].sort()) {
    const manifest = installed(name, root);
    const meta = manifest ? read(manifest).lorakit : undefined;
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
