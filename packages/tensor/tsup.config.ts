import { defineConfig } from 'tsup';

export default defineConfig({
  // The testing entry imports the package by name, so both entries share one registry at run time.
  entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  external: ['@lorakit/tensor', 'vitest'],
});
