#!/usr/bin/env node
// Compiles kernels/lorakit.cu into build/kernels.fatbin with nvcc: machine code for sm_80, sm_86, sm_89
// and sm_90 plus compute_90 PTX (which the driver compiles for newer GPUs). Without nvcc nothing is
// built and the backend compiles the same source with NVRTC at first use (cached on disk). The fatbin
// is rebuilt only when the kernel sources change (their hash is kept beside it).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');
const kernelsDir = join(packageRoot, 'kernels');
const out = join(packageRoot, 'build', 'kernels.fatbin');
const stamp = `${out}.sha256`;

function findNvcc() {
  const candidates = [
    process.env.NVCC,
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => dir && join(dir, 'nvcc')),
    process.env.CUDA_HOME && join(process.env.CUDA_HOME, 'bin', 'nvcc'),
    '/usr/local/cuda/bin/nvcc',
  ];
  return candidates.find((path) => path && existsSync(path));
}

function sourceHash() {
  const hash = createHash('sha256');
  for (const name of readdirSync(kernelsDir).sort())
    hash.update(name).update(readFileSync(join(kernelsDir, name)));
  return hash.digest('hex');
}

function main() {
  const nvcc = findNvcc();
  if (!nvcc) {
    const message =
      '@lorakit/cuda-backend: nvcc not found; the kernels will be compiled with NVRTC at first use';
    if (strict) console.error(message);
    return strict ? 1 : 0;
  }
  const hash = sourceHash();
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return 0;
  mkdirSync(dirname(out), { recursive: true });
  const temporary = `${out}.${process.pid}.tmp`;
  const targets = ['80', '86', '89', '90'].flatMap((sm) => ['-gencode', `arch=compute_${sm},code=sm_${sm}`]);
  const args = [
    '-fatbin',
    ...targets,
    '-gencode',
    'arch=compute_90,code=compute_90',
    '--fmad=false',
    '-O3',
    '--threads',
    '0',
    '-o',
    temporary,
    join(kernelsDir, 'lorakit.cu'),
  ];
  const result = spawnSync(nvcc, args, { stdio: strict ? 'inherit' : 'pipe', encoding: 'utf8' });
  if (result.status !== 0) {
    const reason = (result.stderr ?? '').split('\n').find((line) => /error/.test(line)) ?? 'nvcc failed';
    console.warn(
      `@lorakit/cuda-backend: kernels not prebuilt (${reason.trim()}); NVRTC will compile them at first use`,
    );
    return strict ? (result.status ?? 1) : 0;
  }
  renameSync(temporary, out);
  writeFileSync(stamp, hash);
  return 0;
}

process.exitCode = main();
