// Shared vitest configuration. Workspace packages resolve each other through the
// `@lorakit/source` export condition, so tests run against TypeScript sources
// without building dependencies first.
import { defineConfig, mergeConfig } from 'vitest/config';

/** @type {import('vitest/config').UserConfig} */
export const baseConfig = defineConfig({
  resolve: { conditions: ['@lorakit/source'] },
  ssr: { resolve: { conditions: ['@lorakit/source'] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});

/**
 * Extend the shared configuration with package-specific options.
 * @param {import('vitest/config').UserConfig} [overrides]
 */
export function lorakitVitestConfig(overrides = {}) {
  return mergeConfig(baseConfig, overrides);
}
