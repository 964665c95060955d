import { defineConfig } from 'tsup';

// One ESM file with its shebang (kept from src/cli.ts); dependencies stay external and resolve from
// node_modules, so the workspace packages are used through their own builds.
export default defineConfig({
  entry: { cli: 'src/cli.ts' },
  format: ['esm'],
  dts: false,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
});
