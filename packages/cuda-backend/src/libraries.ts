/**
 * Where to look for the CUDA libraries besides the system loader path: LORAKIT_CUDA_LIBRARY_PATH, the
 * CUDA toolkit (CUDA_HOME, CUDA_PATH, /usr/local/cuda*), and the `nvidia/<name>/lib` folders of
 * NVIDIA's Python wheels in the site-packages of Python installations found on PATH, in virtual
 * environments and in the usual prefixes (PyTorch installs them there).
 */
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

function children(dir: string): string[] {
  try {
    return readdirSync(dir).map((name) => join(dir, name));
  } catch {
    return [];
  }
}

/** site-packages folders under a Python prefix (lib/pythonX.Y/site-packages and dist-packages). */
function sitePackages(prefix: string): string[] {
  const out: string[] = [];
  for (const lib of ['lib', 'lib64', 'local/lib']) {
    for (const python of children(join(prefix, lib))) {
      if (!/python3\.\d+$/.test(python)) continue;
      for (const leaf of ['site-packages', 'dist-packages']) {
        const dir = join(python, leaf);
        if (existsSync(dir)) out.push(dir);
      }
    }
  }
  return out;
}

/** The folders to try, most specific first. */
export function libraryDirectories(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs: string[] = [];
  const add = (dir: string | undefined) => {
    if (dir && !dirs.includes(dir) && existsSync(dir)) dirs.push(dir);
  };
  for (const dir of (env.LORAKIT_CUDA_LIBRARY_PATH ?? '').split(delimiter)) add(dir || undefined);
  for (const home of [env.CUDA_HOME, env.CUDA_PATH]) {
    if (!home) continue;
    add(join(home, 'lib64'));
    add(join(home, 'targets', 'x86_64-linux', 'lib'));
  }
  for (const root of [
    '/usr/local/cuda',
    ...children('/usr/local')
      .filter((d) => /\/cuda-\d+/.test(d))
      .sort()
      .reverse(),
  ]) {
    add(join(root, 'lib64'));
    add(join(root, 'targets', 'x86_64-linux', 'lib'));
  }
  const prefixes = new Set<string>();
  if (env.VIRTUAL_ENV) prefixes.add(env.VIRTUAL_ENV);
  if (env.CONDA_PREFIX) prefixes.add(env.CONDA_PREFIX);
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && (existsSync(join(dir, 'python3')) || existsSync(join(dir, 'python'))))
      prefixes.add(dirname(dir));
  }
  for (const prefix of ['/usr', '/usr/local', '/opt/conda']) prefixes.add(prefix);
  for (const prefix of prefixes) {
    for (const site of sitePackages(prefix)) {
      for (const pkg of children(join(site, 'nvidia'))) add(join(pkg, 'lib'));
    }
  }
  return dirs;
}
