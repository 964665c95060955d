#!/usr/bin/env node
// Shows that `npm install @lorakit/cpu-backend` on a machine without a C++ toolchain works: with the
// prebuilt addon that the packed package carries, the native `cpu` backend loads; without one (a platform
// with no prebuild), the install still succeeds and the tensor library runs on the JavaScript backend.
// Run with `pnpm --filter @lorakit/cpu-backend test:install` (CI runs it; needs the npm registry for
// node-addon-api and node-gyp-build).
//
// 1. Builds and packs @lorakit/safetensors, @lorakit/tensor and @lorakit/cpu-backend (`pnpm pack`, which
//    turns workspace: ranges into versions and runs cpu-backend's `prepack`, the prebuild release script),
//    as they would be published; checks that the cpu-backend tarball holds the prebuild and its hash, and
//    makes a second cpu-backend tarball without prebuilds/ (a platform we ship no binary for).
// 2. Installs the tarballs with npm into a fresh project, three times:
//    - "prebuilt, no compiler": PATH holds only `node` and `sh`; the install compiles nothing, prints no
//      warning, and the native backend loads from prebuilds/;
//    - "no prebuild, no compiler": same PATH, the tarball without prebuilds; the install script finds no
//      c++/g++/clang++ or make and warns;
//    - "no prebuild, broken compiler": the normal PATH with CXX=/bin/false, so node-gyp starts and fails.
// 3. In each project, runs a script (again with the restricted PATH) that imports the package, checks the
//    backend it chose (`cpu` with the prebuild, else `js` with exactly one warning), and does tensor math
//    (a matmul, softmax, a gradient) whose values it checks.
//
// Exits non-zero with the reason when any step fails; prints the warning lines it saw.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { packageRoot, prebuildPaths } from './native-sources.mjs';

const repoRoot = resolve(packageRoot, '..', '..');
const packages = ['@lorakit/safetensors', '@lorakit/tensor', '@lorakit/cpu-backend'];
const keep = process.argv.includes('--keep');
const skipBuild = process.argv.includes('--no-build');

// pnpm as it was started (`npx pnpm …` puts no pnpm on PATH, but sets npm_execpath: a script or, for
// pnpm ≥ 11, a native executable), else pnpm from PATH.
const execPath = process.env.npm_execpath ?? '';
const pnpm = !/pnpm/.test(execPath)
  ? ['pnpm']
  : /\.[cm]?js$/.test(execPath)
    ? [process.execPath, execPath]
    : [execPath];

const npmCli = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
if (!existsSync(npmCli)) throw new Error(`npm not found next to this Node (looked for ${npmCli})`);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (result.status !== 0) {
    throw new Error(
      `${[command, ...args].join(' ')} exited with ${result.status}\n${result.stdout}\n${result.stderr}`,
    );
  }
  return `${result.stdout}\n${result.stderr}`;
}

const work = mkdtempSync(join(tmpdir(), 'lorakit-install-'));
try {
  // 1. Build and pack.
  const filters = packages.flatMap((name) => ['--filter', name]);
  if (!skipBuild)
    run(pnpm[0], [...pnpm.slice(1), ...filters, 'run', 'build'], { cwd: repoRoot, stdio: 'pipe' });
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  for (const name of packages) {
    run(pnpm[0], [...pnpm.slice(1), '--filter', name, 'pack', '--pack-destination', tarballs], {
      cwd: repoRoot,
    });
  }
  const files = readdirSync(tarballs).map((file) => join(tarballs, file));
  console.log(`packed: ${readdirSync(tarballs).join(', ')}`);
  const backendTarball = files.find((file) => /lorakit-cpu-backend-/.test(file));
  const listing = run('tar', ['-tzf', backendTarball]).split('\n');
  const prebuild = prebuildPaths();
  const inTarball = (path) => `package/${path.slice(packageRoot.length + 1)}`;
  for (const path of [prebuild.addon, prebuild.stamp]) {
    if (!listing.includes(inTarball(path))) {
      throw new Error(`${backendTarball} does not hold ${inTarball(path)}:\n${listing.join('\n')}`);
    }
  }
  console.log(`the cpu-backend tarball holds ${inTarball(prebuild.addon)}`);
  // The same package without prebuilds/, as on a platform no prebuild was made for.
  const unpacked = join(work, 'without-prebuilds');
  mkdirSync(unpacked);
  run('tar', ['-xzf', backendTarball, '-C', unpacked]);
  rmSync(join(unpacked, 'package', 'prebuilds'), { recursive: true });
  const withoutPrebuilds = join(work, 'lorakit-cpu-backend-without-prebuilds.tgz');
  run('tar', ['-czf', withoutPrebuilds, '-C', unpacked, 'package']);
  const filesWithout = files.map((file) => (file === backendTarball ? withoutPrebuilds : file));

  // A PATH with nothing but node and a shell (npm runs install scripts through `sh`).
  const onlyNode = join(work, 'only-node');
  mkdirSync(onlyNode);
  symlinkSync(process.execPath, join(onlyNode, 'node'));
  symlinkSync('/bin/sh', join(onlyNode, 'sh'));

  const variants = [
    { name: 'prebuilt, no compiler', env: { PATH: onlyNode }, tarballs: files, native: true },
    {
      name: 'no prebuild, no compiler',
      env: { PATH: onlyNode },
      tarballs: filesWithout,
      expect: 'no C++ compiler found',
    },
    {
      name: 'no prebuild, broken compiler',
      env: { CXX: '/bin/false', LORAKIT_BUILD_FROM_SOURCE: '1' },
      tarballs: filesWithout,
      expect: 'native addon not built',
    },
  ];
  for (const variant of variants) {
    const project = join(work, variant.name.replace(/\W+/g, '-'));
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      `${JSON.stringify({ name: 'install-check', private: true, type: 'module' }, null, 2)}\n`,
    );
    // 2. Install. npm runs the package's install script (foreground-scripts shows its output).
    const env = { ...process.env, ...variant.env, npm_config_foreground_scripts: 'true' };
    const installLog = run(
      process.execPath,
      [npmCli, 'install', '--no-audit', '--no-fund', '--loglevel=warn', ...variant.tarballs],
      { cwd: project, env },
    );
    const installWarning = installLog
      .split('\n')
      .find((line) => line.includes('@lorakit/cpu-backend: native addon'));
    if (variant.native && installWarning) {
      throw new Error(`[${variant.name}] the install warned although a prebuild fits:\n${installLog}`);
    }
    if (!variant.native && !installWarning?.includes(variant.expect)) {
      throw new Error(`[${variant.name}] the install did not warn "${variant.expect}":\n${installLog}`);
    }
    if (
      existsSync(
        join(project, 'node_modules', '@lorakit', 'cpu-backend', 'build', 'Release', 'lorakit_cpu.node'),
      )
    ) {
      throw new Error(`[${variant.name}] an addon was built although the toolchain is unusable`);
    }
    console.log(
      `[${variant.name}] install succeeded; ${installWarning ? `it printed:\n  ${installWarning.trim()}` : 'it compiled nothing and printed no warning'}`,
    );

    // 3. Use it.
    writeFileSync(
      join(project, 'check.mjs'),
      `const warnings = [];
console.warn = (...args) => warnings.push(args.join(' '));
const { getBackend, tensor } = await import('@lorakit/tensor');
const cpu = await import('@lorakit/cpu-backend');
const x = tensor([[1, 2], [3, 4]]).setRequiresGrad();
const y = x.matmul(x.T).add(1).softmax(-1);
y.mul(tensor([[1, 0], [0, 1]])).sum().backward();
console.log(JSON.stringify({ backend: getBackend().name, native: cpu.nativeAvailable, warnings,
  y: Array.from(y.toArray()), grad: Array.from(x.grad.toArray()) }));
`,
    );
    const report = JSON.parse(
      execFileSync(process.execPath, ['check.mjs'], { cwd: project, env, encoding: 'utf8' })
        .trim()
        .split('\n')
        .at(-1),
    );
    const close = (a, b) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) < 1e-5);
    const problems = [];
    const expected = variant.native
      ? { backend: 'cpu', native: true, warnings: 0 }
      : { backend: 'js', native: false, warnings: 1 };
    if (report.backend !== expected.backend)
      problems.push(`default backend is ${report.backend}, expected ${expected.backend}`);
    if (report.native !== expected.native) problems.push(`nativeAvailable should be ${expected.native}`);
    if (report.warnings.length !== expected.warnings)
      problems.push(`expected ${expected.warnings} warning(s), got ${JSON.stringify(report.warnings)}`);
    if (!close(report.y, [0.0024726232, 0.9975274, 8.3152804e-7, 0.9999992]))
      problems.push(`wrong values ${report.y}`);
    if (!close(report.grad, [-0.002469004, -0.0000033262, -0.002462334, -0.004928006])) {
      problems.push(`wrong gradient ${report.grad}`);
    }
    if (problems.length > 0) throw new Error(`[${variant.name}] ${problems.join('; ')}`);
    console.log(
      `[${variant.name}] tensor math runs on the "${report.backend}" backend${report.warnings.length ? `; at run time it warned:\n  ${report.warnings[0]}` : ''}`,
    );
  }
  console.log('install without a working compiler (with and without a prebuild): OK');
} finally {
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
