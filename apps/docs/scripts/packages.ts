import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

/** A published package the API reference covers. */
export interface PackageEntry {
  /** npm name, e.g. `@lorakit/lora`. */
  readonly name: string;
  /** Folder under packages/, e.g. `lora`. */
  readonly folder: string;
  /** The package.json description (the API index lists it). */
  readonly description: string;
  /** Absolute path of the package's `src/index.ts`. */
  readonly entry: string;
}

/** Dependency order, so the sidebar reads from the file format up to the plugins; others follow by name. */
const ORDER = [
  'safetensors',
  'tensor',
  'cpu-backend',
  'cuda-backend',
  'nn',
  'models',
  'lora',
  'inits-svd',
  'merge-strategies',
  'eva',
  'loftq',
];

/** Every non-private package under packages/ with a `src/index.ts` — new packages join the reference by themselves. */
export function apiPackages(): PackageEntry[] {
  const dir = join(repoRoot, 'packages');
  const entries: PackageEntry[] = [];
  for (const folder of readdirSync(dir)) {
    const manifestPath = join(dir, folder, 'package.json');
    const entry = join(dir, folder, 'src', 'index.ts');
    if (!existsSync(manifestPath) || !existsSync(entry)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
      name: string;
      private?: boolean;
      description?: string;
    };
    if (manifest.private) continue;
    entries.push({ name: manifest.name, folder, description: manifest.description ?? '', entry });
  }
  const rank = (folder: string) => {
    const index = ORDER.indexOf(folder);
    return index === -1 ? ORDER.length : index;
  };
  return entries.sort((a, b) => rank(a.folder) - rank(b.folder) || a.folder.localeCompare(b.folder));
}
