#!/usr/bin/env node
// Release script: makes the prebuilt addon that the packed package carries, as sharp and other native npm
// packages do, so that `npm install` on a machine without a compiler still gets the native backend.
//
// Compiles build/Release (build-native.mjs --strict, unless it is current for the sources' hash), strips
// its symbols and copies it to prebuilds/<platform>-<arch>/node.napi.<libc>.node with the sources' hash
// beside it (node.napi.<libc>.sha256). node-gyp-build loads that file when there is no build/Release, and
// the install script skips compiling while the hash matches the shipped sources. Runs as `prepack`, so
// `npm pack` / `pnpm pack` / `changeset publish` always pack a prebuild of the sources they pack.
//
// Only the running platform is built: linux-x64 with glibc here (Debian 12, glibc ≥ 2.35 is required by
// the binary). A musl build needs a musl C++ toolchain (Alpine's g++), which Debian does not package.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCurrent, localBuild, nativeSourcesHash, packageRoot, prebuildPaths } from './native-sources.mjs';

const hash = nativeSourcesHash();
const target = prebuildPaths();
const relative = (path) => path.slice(packageRoot.length + 1);

if (isCurrent(target.addon, target.stamp, hash)) {
  console.log(`${relative(target.addon)} is current (sources ${hash.slice(0, 12)})`);
} else {
  if (!isCurrent(localBuild.addon, localBuild.stamp, hash)) {
    const build = spawnSync(
      process.execPath,
      [join(packageRoot, 'scripts', 'build-native.mjs'), '--strict'],
      {
        cwd: packageRoot,
        stdio: 'inherit',
      },
    );
    if (build.status !== 0) {
      console.error('@lorakit/cpu-backend prebuild: the native build failed (see above)');
      process.exit(build.status ?? 1);
    }
  }
  mkdirSync(target.dir, { recursive: true });
  copyFileSync(localBuild.addon, target.addon);
  // Symbols are not needed to load the addon; stripping halves the file.
  const strip = spawnSync('strip', ['--strip-unneeded', target.addon], { stdio: 'inherit' });
  if (strip.error)
    console.warn(`prebuild: strip not run (${strip.error.message}); the file keeps its symbols`);
  writeFileSync(target.stamp, `${hash}\n`);
  console.log(`wrote ${relative(target.addon)} (sources ${hash.slice(0, 12)})`);
}
