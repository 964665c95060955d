import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { repoRoot } from '../scripts/paths.js';

// Its own file: importing @lorakit/cpu-backend makes `cpu` the default backend of the whole process.
const addonBuilt = existsSync(join(repoRoot, 'packages/cpu-backend/build/Release/lorakit_cpu.node'));

describe('backends', () => {
  it(`backends.ts lists the backends and agrees with the js reference (cpu addon ${addonBuilt ? 'built' : 'not built: js only'})`, async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const { backends } = await import('../examples/backends.js');
    const { registered, defaultBackend, difference } = backends();
    warn.mockRestore();
    log.mockRestore();
    expect(registered.map((entry) => entry.name)).toContain('js');
    expect(defaultBackend).toBe(registered[0]!.name);
    if (addonBuilt) expect(defaultBackend).toBe('cpu');
    expect(difference).toBeLessThan(1e-3);
  });
});
