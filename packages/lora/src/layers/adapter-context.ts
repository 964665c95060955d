/**
 * Per-forward state the model wrapper hands down to LoRA layers: the adapter name of each row of a
 * mixed batch (PEFT's `adapter_names=`), set for the duration of one forward call.
 */
let current: readonly string[] | undefined;

/** The adapter name per batch row during a mixed-batch forward, else undefined. */
export function currentAdapterNames(): readonly string[] | undefined {
  return current;
}

/** Runs `fn` with `names` as the per-row adapter names (`'__base__'` = no adapter). */
export function withAdapterNames<T>(names: readonly string[] | undefined, fn: () => T): T {
  const previous = current;
  current = names;
  try {
    return fn();
  } finally {
    current = previous;
  }
}

/** The row name that means "no adapter" in mixed batches. */
export const BASE_ADAPTER = '__base__';
