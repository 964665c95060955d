#!/usr/bin/env node
// Builds the native addon with node-gyp, then the CUDA kernels with nvcc where it exists
// (scripts/build-kernels.mjs). Run by the package's `install` script (and `build:native`). The addon
// needs no CUDA toolkit: it loads the CUDA libraries at run time.
//
// - pnpm does not pass `nodedir` to lifecycle scripts, so node-gyp would try to download Node headers; we
//   point npm_config_nodedir at the headers that ship with this Node (<prefix>/include/node) when present.
// - A failed build must not fail the install: the package then runs on the JavaScript backend. We print one
//   warning line with the reason and exit 0. `--strict` (used by `build:native`) shows the full node-gyp
//   output and exits with its status instead.
// - A matching prebuild (prebuilds/<platform>-<arch>/*.node) makes the build unnecessary;
//   LORAKIT_BUILD_FROM_SOURCE=1 builds anyway.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');
const require = createRequire(join(packageRoot, 'package.json'));

const addon = join(packageRoot, 'build', 'Release', 'lorakit_cuda.node');
const stamp = `${addon}.sha256`;

/** Hash of what the addon is compiled from (binding.gyp and native/), stamped beside a build. */
function sourcesHash() {
  const hash = createHash('sha256').update(readFileSync(join(packageRoot, 'binding.gyp')));
  const dir = join(packageRoot, 'native');
  for (const name of readdirSync(dir).sort()) hash.update(name).update(readFileSync(join(dir, name)));
  return hash.digest('hex');
}

function runKernels() {
  const kernels = spawnSync(
    process.execPath,
    [join(packageRoot, 'scripts', 'build-kernels.mjs'), ...(strict ? ['--strict'] : [])],
    {
      cwd: packageRoot,
      stdio: 'inherit',
    },
  );
  return strict ? (kernels.status ?? 1) : 0;
}

function hasPrebuild() {
  const dir = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`);
  return existsSync(dir) && readdirSync(dir).some((name) => name.endsWith('.node'));
}

/** node-gyp from our dependencies, else the copy bundled with npm next to this Node. */
function findNodeGyp() {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    const prefix = resolve(dirname(process.execPath), '..');
    const candidates = [
      join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
      join(
        dirname(process.execPath),
        'node_modules',
        'npm',
        'node_modules',
        'node-gyp',
        'bin',
        'node-gyp.js',
      ),
    ];
    return candidates.find((path) => existsSync(path));
  }
}

/** The install prefix whose include/node holds this Node's headers (what node-gyp calls nodedir). */
function localNodeDir() {
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

/** The most telling line of a failed node-gyp run. */
function failureReason(output) {
  const lines = output.split('\n').map((line) => line.trim());
  const patterns = [
    /(?:\S+:\d+:\d+: )?\berror: .*/, // the compiler's first error, with its location
    /(?:FileNotFoundError|No such file or directory).*/,
    /gyp ERR! find Python.*/,
    /gyp ERR! stack Error: .*/,
  ];
  for (const pattern of patterns) {
    const match = lines.map((line) => line.match(pattern)?.[0]).find(Boolean);
    if (match) return match.replace(/^gyp ERR! (?:stack )?/, '');
  }
  return lines.filter(Boolean).at(-1) ?? 'unknown error';
}

/** An executable on PATH (or an absolute path) that exists, for the tools node-gyp needs on Unix. */
function findExecutable(names) {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const name of names) {
    const [command] = name.trim().split(/\s+/);
    if (!command) continue;
    if (isAbsolute(command)) {
      if (existsSync(command)) return command;
      continue;
    }
    const found = dirs.map((dir) => join(dir, command)).find((path) => existsSync(path));
    if (found) return found;
  }
  return undefined;
}

/** Why a build cannot start here, checked up front so the warning names the missing tool. */
function missingTool() {
  if (process.platform === 'win32') return undefined; // node-gyp finds Visual Studio itself
  const compilers = [process.env.CXX, 'c++', 'g++', 'clang++'].filter(Boolean);
  if (!findExecutable(compilers)) return `no C++ compiler found (looked for ${compilers.join(', ')})`;
  if (!findExecutable(['make'])) return 'make not found';
  return undefined;
}

function warn(reason) {
  console.warn(
    `@lorakit/cuda-backend: native addon not built (${reason}); the cuda backend will not be available. ` +
      'Run `pnpm --filter @lorakit/cuda-backend build:native` to see the full build log.',
  );
}

function main() {
  if (!strict && process.env.LORAKIT_BUILD_FROM_SOURCE !== '1' && hasPrebuild()) return 0;
  // An addon built from the same sources needs no compile (pnpm runs this on every install).
  const hash = sourcesHash();
  if (!strict && existsSync(addon) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash)
    return runKernels();
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) {
    if (strict) console.error('@lorakit/cuda-backend: node-gyp not found');
    else warn('node-gyp not found');
    return strict ? 1 : 0;
  }
  const missing = missingTool();
  if (missing) {
    if (strict) console.error(`@lorakit/cuda-backend: ${missing}`);
    else warn(missing);
    return strict ? 1 : 0;
  }
  const env = { ...process.env };
  const nodedir = env.npm_config_nodedir ?? localNodeDir();
  if (nodedir) env.npm_config_nodedir = nodedir;
  const jobs = String(Math.max(1, availableParallelism()));
  const result = spawnSync(process.execPath, [nodeGyp, 'rebuild', '--release', `--jobs=${jobs}`], {
    cwd: packageRoot,
    env,
    encoding: 'utf8',
    stdio: strict ? 'inherit' : 'pipe',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status === 0) {
    writeFileSync(stamp, `${hash}\n`);
    return runKernels();
  }
  if (strict) return result.status ?? 1;
  const output = `${result.stdout ?? ''}\n${result.stderr ?? ''}`;
  warn(result.error ? result.error.message : failureReason(output));
  return 0;
}

process.exitCode = main();
