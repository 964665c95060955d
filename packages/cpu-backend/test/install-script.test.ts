import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';

// The install script (scripts/build-native.mjs) decides whether to compile from the sources' hash. Each
// case runs it in a copy of the package, with PATH holding only node and sh, so a compile attempt shows
// as the "no C++ compiler" warning instead of minutes of work.
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const prebuild = join('prebuilds', 'linux-x64', 'node.napi.glibc');
const linux = process.platform === 'linux' && process.arch === 'x64';

function install(dir: string) {
  const bin = join(dir, '.bin');
  if (!existsSync(bin)) {
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    symlinkSync('/bin/sh', join(bin, 'sh'));
  }
  const run = spawnSync(process.execPath, ['scripts/build-native.mjs'], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: bin, LORAKIT_VERBOSE_INSTALL: '1' },
  });
  return `${run.stdout}${run.stderr}`.trim();
}

/** scripts/native-sources.mjs's hash of the copy's sources (run in a child: the module is plain ESM). */
function sourcesHash(dir: string): string {
  return spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "import('./scripts/native-sources.mjs').then((m) => console.log(m.nativeSourcesHash()))",
    ],
    { cwd: dir, encoding: 'utf8' },
  ).stdout.trim();
}

describe.skipIf(!linux)('the committed prebuild', () => {
  it('was made from the current native sources, so a fresh clone compiles nothing', () => {
    expect(
      readFileSync(join(packageRoot, `${prebuild}.sha256`), 'utf8').trim(),
      'native/ or binding.gyp changed since the prebuild: run `pnpm --filter @lorakit/cpu-backend build:prebuild` and commit prebuilds/',
    ).toBe(sourcesHash(packageRoot));
  });
});

describe.skipIf(!linux)('the install script', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lorakit-install-script-'));
    for (const path of ['package.json', 'binding.gyp', 'native', 'scripts', 'prebuilds']) {
      cpSync(join(packageRoot, path), join(dir, path), { recursive: true });
    }
  });

  it('compiles nothing when the prebuild was made from these sources, and removes a stale build/Release', () => {
    writeFileSync(join(dir, `${prebuild}.sha256`), `${sourcesHash(dir)}\n`);
    mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
    writeFileSync(join(dir, 'build', 'Release', 'lorakit_cpu.node'), 'stale');
    writeFileSync(join(dir, 'build', 'Release', 'lorakit-sources.sha256'), 'other sources\n');
    expect(install(dir)).toBe(`@lorakit/cpu-backend: using ${prebuild}.node`);
    expect(existsSync(join(dir, 'build', 'Release', 'lorakit_cpu.node'))).toBe(false);
  });

  it('compiles nothing when build/Release was compiled from these sources', () => {
    mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
    writeFileSync(join(dir, 'build', 'Release', 'lorakit_cpu.node'), 'current');
    writeFileSync(join(dir, 'build', 'Release', 'lorakit-sources.sha256'), `${sourcesHash(dir)}\n`);
    expect(install(dir)).toBe('@lorakit/cpu-backend: build/Release is current');
  });

  it('compiles when a source changed (the prebuild no longer matches)', () => {
    writeFileSync(join(dir, `${prebuild}.sha256`), `${sourcesHash(dir)}\n`);
    appendFileSync(join(dir, 'native', 'addon.cc'), '\n// changed\n');
    expect(install(dir)).toMatch(/^@lorakit\/cpu-backend: native addon not built \(no C\+\+ compiler found/);
  });
});
