import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The @lorakit/cli package folder, found upwards from this file (dist/cli.js or src/demo/…). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === '@lorakit/cli'
    ) {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the @lorakit/cli package folder');
    dir = parent;
  }
}

/** The demo's pretrained base model, shipped in the package (demo/base). */
export function demoBaseDir(): string {
  return join(packageRoot(), 'demo', 'base');
}
