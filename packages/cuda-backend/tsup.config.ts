import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // native.ts finds the package root through import.meta.url; the shim provides it in the CJS build.
  shims: true,
});
