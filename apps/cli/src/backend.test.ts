import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  getBackend,
  listBackends,
  registerBackend,
  setDefaultBackend,
  unregisterBackend,
} from '@lorakit/tensor';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backendChoices, chooseBackend } from './backend.js';
import { backendPackages, pluginPackages } from './discovery.js';

/**
 * A throwaway package whose dependencies are fake backend packages: `fast-gpu` (priority 50, describes
 * its device), `dead-gpu` (priority 90, registers nothing on import and says why) and `missing-gpu` (an
 * optional dependency that is not installed). The fakes sit in this package's node_modules under a scope
 * of their own, where both the discovery (walking up from the throwaway package) and the CLI's `import`
 * find them; the scope is removed afterwards.
 */
let root: string;
const scope = `@lorakit-test-${process.pid}`;
const scopeDir = join(import.meta.dirname, '..', 'node_modules', scope);
const fast = `${scope}/fast-gpu`;
const dead = `${scope}/dead-gpu`;
const globals = globalThis as { __registerFake?: (name: string) => void };

function fakePackage(name: string, lorakit: object, source: string): void {
  const dir = join(import.meta.dirname, '..', 'node_modules', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name, type: 'module', main: 'index.js', lorakit }),
  );
  writeFileSync(join(dir, 'index.js'), source);
}

beforeAll(() => {
  root = mkdtempSync(join(import.meta.dirname, '..', '.tmp-backends-'));
  const manifest = {
    name: 'fake-app',
    dependencies: { [fast]: '1', [dead]: '1', [`${scope}/some-plugin`]: '1', [`${scope}/other`]: '1' },
    optionalDependencies: { [`${scope}/missing-gpu`]: '1' },
  };
  writeFileSync(join(root, 'package.json'), JSON.stringify(manifest));
  fakePackage(fast, { backend: 'fast', priority: 50 }, "globalThis.__registerFake('fast');\n");
  fakePackage(
    dead,
    { backend: 'dead', priority: 90 },
    "export const unavailableReason = 'no device found';\n",
  );
  fakePackage(`${scope}/some-plugin`, { plugin: 'init' }, '');
  mkdirSync(join(scopeDir, 'other'), { recursive: true });
  writeFileSync(join(scopeDir, 'other', 'package.json'), '{"name":"other"}');
  globals.__registerFake = (name) =>
    registerBackend(
      Object.create(getBackend('js'), {
        name: { value: name },
        describe: { value: () => `${name} device 0 (fake, 1 GiB)` },
      }),
      50,
    );
});

// A package registers its backend once, when first imported (as real ones do): keep it until the end.
afterEach(() => setDefaultBackend(undefined));

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(scopeDir, { recursive: true, force: true });
  unregisterBackend('fast');
  delete globals.__registerFake;
});

describe('backend discovery', () => {
  it('finds the installed packages that declare a backend or a plugin, highest priority first', () => {
    expect(backendPackages(root).map((p) => [p.name, p.backend, p.priority])).toEqual([
      [dead, 'dead', 90],
      [fast, 'fast', 50],
    ]);
    expect(pluginPackages(root).map((p) => [p.name, p.plugin])).toEqual([[`${scope}/some-plugin`, 'init']]);
    expect(backendChoices(root)).toEqual(['auto', 'js', 'dead', 'fast']);
  });

  it('auto takes the highest-priority registered backend, says what was unavailable and the device', async () => {
    const choice = await chooseBackend('auto', root);
    expect(choice.name).toBe('fast');
    expect(choice.device).toBe('fast device 0 (fake, 1 GiB)');
    expect(choice.reason).toBe(
      `highest-priority registered backend (${fast}, priority 50); unavailable: dead: ${dead} registered no "dead" backend (no device found); device: fast device 0 (fake, 1 GiB)`,
    );
    expect(getBackend().name).toBe('fast');
  });

  it('a named backend must register, else the error lists the registered ones', async () => {
    expect((await chooseBackend('fast', root)).reason).toBe(
      `${fast} (--backend fast); device: fast device 0 (fake, 1 GiB)`,
    );
    await expect(chooseBackend('dead', root)).rejects.toThrow(
      `--backend dead: ${dead} registered no "dead" backend (no device found); registered backends: ${listBackends()
        .map((b) => b.name)
        .join(', ')}`,
    );
  });

  it('js needs no package; unknown names list the choices', async () => {
    expect(await chooseBackend('js', root)).toEqual({
      name: 'js',
      reason: 'JavaScript reference backend (--backend js)',
    });
    await expect(chooseBackend('missing', root)).rejects.toThrow(
      '--backend must be one of auto, js, dead, fast, received "missing"',
    );
  });
});
