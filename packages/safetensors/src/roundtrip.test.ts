import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from './reader.js';
import { writeSafetensors } from './writer.js';

function safetensorsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return safetensorsFiles(full);
    return name.endsWith('.safetensors') ? [full] : [];
  });
}

const fixtures = peftFixturesDir();
const files = safetensorsFiles(fixtures);
const dataDir = join(import.meta.dirname, '..', 'test-data');

/** Reads a file lazily and writes it back through the streaming writer. */
async function rewrite(path: string, out: string): Promise<void> {
  const file = SafetensorsFile.open(path);
  try {
    await writeSafetensors(
      out,
      file.tensors.map((t) => ({
        name: t.name,
        dtype: t.dtype,
        shape: t.shape,
        data: () => file.readSync(t.name, { raw: true }).data,
      })),
      { metadata: file.header.hasMetadata ? file.metadata : undefined },
    );
  } finally {
    file.close();
  }
}

describe('byte-identical round trip', () => {
  const out = mkdtempSync(join(tmpdir(), 'lorakit-st-'));

  it('finds the fixture files', () => {
    expect(files.length).toBeGreaterThan(30);
  });

  it.each(files.map((f) => [relative(fixtures, f), f]))('%s', async (_label, path) => {
    const target = join(out, 'copy.safetensors');
    await rewrite(path, target);
    expect(Buffer.compare(readFileSync(target), readFileSync(path))).toBe(0);
  });

  it('a file Python wrote with every dtype', async () => {
    const path = join(dataDir, 'all-dtypes.safetensors');
    const target = join(out, 'all.safetensors');
    await rewrite(path, target);
    expect(Buffer.compare(readFileSync(target), readFileSync(path))).toBe(0);
  });
});
