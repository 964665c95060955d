#!/usr/bin/env node
// Shows that `npm install @lorakit/cpu-backend` on a machine without a C++ toolchain still gives a
// working tensor library on the JavaScript backend. Run with `pnpm --filter @lorakit/cpu-backend
// test:install` (needs the npm registry for node-addon-api and node-gyp-build).
//
// 1. Builds and packs @lorakit/safetensors, @lorakit/tensor and @lorakit/cpu-backend (`pnpm pack`, which
//    turns workspace: ranges into versions), as they would be published.
// 2. Installs the three tarballs with npm into a fresh project, twice:
//    - "no compiler": PATH holds only `node` and `sh`, so the install script finds no c++/g++/clang++ or make;
//    - "broken compiler": the normal PATH with CXX=/bin/false, so node-gyp starts and the compile fails.
//    Both installs must succeed and print the package's one-line warning.
// 3. In each project, runs a script (again with the restricted PATH) that imports the package, checks that
//    it printed exactly one warning and left `js` as the default backend, and does tensor math (a matmul,
//    softmax, a gradient) whose values it checks.
//
// Exits non-zero with the reason when any step fails; prints the warning lines it saw.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(packageRoot, '..', '..');
const packages = ['@lorakit/safetensors', '@lorakit/tensor', '@lorakit/cpu-backend'];
const keep = process.argv.includes('--keep');
const skipBuild = process.argv.includes('--no-build');

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
  if (!skipBuild) run('pnpm', [...filters, 'run', 'build'], { cwd: repoRoot, stdio: 'pipe' });
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  for (const name of packages) {
    run('pnpm', ['--filter', name, 'pack', '--pack-destination', tarballs], { cwd: repoRoot });
  }
  const files = readdirSync(tarballs).map((file) => join(tarballs, file));
  console.log(`packed: ${readdirSync(tarballs).join(', ')}`);

  // A PATH with nothing but node and a shell (npm runs install scripts through `sh`).
  const onlyNode = join(work, 'only-node');
  mkdirSync(onlyNode);
  symlinkSync(process.execPath, join(onlyNode, 'node'));
  symlinkSync('/bin/sh', join(onlyNode, 'sh'));

  const variants = [
    { name: 'no compiler', env: { PATH: onlyNode }, expect: 'no C++ compiler found' },
    {
      name: 'broken compiler',
      env: { CXX: '/bin/false', LORAKIT_BUILD_FROM_SOURCE: '1' },
      expect: 'native addon not built',
    },
  ];
  for (const variant of variants) {
    const project = join(work, variant.name.replace(' ', '-'));
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      `${JSON.stringify({ name: 'install-check', private: true, type: 'module' }, null, 2)}\n`,
    );
    // 2. Install. npm runs the package's install script (foreground-scripts shows its output).
    const env = { ...process.env, ...variant.env, npm_config_foreground_scripts: 'true' };
    const installLog = run(
      process.execPath,
      [npmCli, 'install', '--no-audit', '--no-fund', '--loglevel=warn', ...files],
      { cwd: project, env },
    );
    const installWarning = installLog
      .split('\n')
      .find((line) => line.includes('@lorakit/cpu-backend: native addon'));
    if (!installWarning?.includes(variant.expect)) {
      throw new Error(`[${variant.name}] the install did not warn "${variant.expect}":\n${installLog}`);
    }
    if (
      existsSync(
        join(project, 'node_modules', '@lorakit', 'cpu-backend', 'build', 'Release', 'lorakit_cpu.node'),
      )
    ) {
      throw new Error(`[${variant.name}] an addon was built although the toolchain is unusable`);
    }
    console.log(`[${variant.name}] install succeeded; it printed:\n  ${installWarning.trim()}`);

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
    if (report.backend !== 'js') problems.push(`default backend is ${report.backend}, expected js`);
    if (report.native !== false) problems.push('nativeAvailable should be false');
    if (report.warnings.length !== 1)
      problems.push(`expected one warning, got ${JSON.stringify(report.warnings)}`);
    if (!close(report.y, [0.0024726232, 0.9975274, 8.3152804e-7, 0.9999992]))
      problems.push(`wrong values ${report.y}`);
    if (!close(report.grad, [-0.002469004, -0.0000033262, -0.002462334, -0.004928006])) {
      problems.push(`wrong gradient ${report.grad}`);
    }
    if (problems.length > 0) throw new Error(`[${variant.name}] ${problems.join('; ')}`);
    console.log(
      `[${variant.name}] tensor math runs on the "${report.backend}" backend; at run time it warned:\n  ${report.warnings[0]}`,
    );
  }
  console.log('install without a working compiler: OK');
} finally {
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
