import { expect } from 'vitest';

/** Asserts that `fn` throws an instance of `kind` whose message is exactly `message`. */
export function expectError(
  fn: () => unknown,
  kind: abstract new (...args: never[]) => Error,
  message: string,
): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `expected ${kind.name}: ${message}`).toBeInstanceOf(kind);
  expect((thrown as Error).message).toBe(message);
}

/** The async variant of {@link expectError}. */
export async function expectRejection(
  promise: Promise<unknown>,
  kind: abstract new (...args: never[]) => Error,
  message: string,
): Promise<void> {
  let thrown: unknown;
  try {
    await promise;
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `expected ${kind.name}: ${message}`).toBeInstanceOf(kind);
  expect((thrown as Error).message).toBe(message);
}
