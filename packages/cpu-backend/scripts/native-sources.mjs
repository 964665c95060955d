// What a native build is made from, and where its builds live: shared by the install script
// (build-native.mjs), the release script (prebuild.mjs) and the install check.
//
// A build is current when the SHA-256 of binding.gyp and every file under native/ (names and bytes, in
// sorted order) equals the hash stamped beside it. The addon uses N-API 8 only, so one build serves every
// Node ≥ 20 of the same platform, architecture and C library.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** build/Release's addon and the hash of the sources it was compiled from. */
export const localBuild = {
  addon: join(packageRoot, 'build', 'Release', 'lorakit_cpu.node'),
  stamp: join(packageRoot, 'build', 'Release', 'lorakit-sources.sha256'),
};

/** The SHA-256 of binding.gyp and native/** (hex). */
export function nativeSourcesHash() {
  const hash = createHash('sha256');
  const files = [
    'binding.gyp',
    ...readdirSync(join(packageRoot, 'native'))
      .sort()
      .map((n) => `native/${n}`),
  ];
  for (const file of files) {
    const bytes = readFileSync(join(packageRoot, file));
    hash.update(`${file}\0${bytes.length}\0`).update(bytes);
  }
  return hash.digest('hex');
}

/** This process's C library on Linux: glibc, or musl (no glibc version in the process report). */
export function libc() {
  if (process.platform !== 'linux') return undefined;
  const header = process.report?.getReport?.().header;
  return header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

/**
 * The prebuild for this platform in node-gyp-build's layout — prebuilds/<platform>-<arch>/node.napi[.<libc>].node
 * — with the hash stamp beside it (node.napi[.<libc>].sha256).
 */
export function prebuildPaths(platform = process.platform, arch = process.arch, cLibrary = libc()) {
  const dir = join(packageRoot, 'prebuilds', `${platform}-${arch}`);
  const base = cLibrary ? `node.napi.${cLibrary}` : 'node.napi';
  return { dir, addon: join(dir, `${base}.node`), stamp: join(dir, `${base}.sha256`) };
}

/** Whether `addon` exists and its `stamp` names `hash`. */
export function isCurrent(addon, stamp, hash) {
  return existsSync(addon) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash;
}
