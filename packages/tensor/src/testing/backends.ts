import { getBackend, listBackends, setDefaultBackend } from '@lorakit/tensor';
import { afterAll, beforeAll, describe } from 'vitest';

/**
 * Runs a suite once per registered backend with that backend as the default (TensorFlow.js's
 * `describeWithFlags`, candle's `test_device!`). `LORAKIT_TEST_BACKENDS=js,cpu` restricts the list; a
 * requested backend that is not registered is reported as skipped with the reason.
 */
export function describeEachBackend(name: string, suite: (backend: string) => void): void {
  const registered = listBackends().map((b) => b.name);
  const requested = process.env.LORAKIT_TEST_BACKENDS?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const names = requested ?? registered;
  for (const backend of names) {
    if (!registered.includes(backend)) {
      describe.skip(`${name} [${backend}: not registered — ${registered.join(', ')} are]`, () => {});
      continue;
    }
    describe(`${name} [${backend}]`, () => {
      beforeAll(() => {
        getBackend(backend);
        setDefaultBackend(backend);
      });
      afterAll(() => setDefaultBackend(undefined));
      suite(backend);
    });
  }
}
