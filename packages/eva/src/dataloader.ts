/** Calibration batches: any sync or async iterable (an array, a generator, a stream of batches). */
export type EvaDataloader<Batch = unknown> = Iterable<Batch> | AsyncIterable<Batch>;

function isAsyncIterable<T>(value: unknown): value is AsyncIterable<T> {
  return typeof (value as AsyncIterable<T> | null)?.[Symbol.asyncIterator] === 'function';
}

export function isDataloader(value: unknown): value is EvaDataloader {
  return (
    isAsyncIterable(value) || typeof (value as Iterable<unknown> | null)?.[Symbol.iterator] === 'function'
  );
}

/**
 * Python's `itertools.cycle` over a dataloader, as PEFT's EVA loop uses it: the loader is read once,
 * each batch kept as it arrives, and the kept batches replayed in order once it is exhausted (a
 * one-shot generator works too). `lap` is 0 during the first pass.
 */
export class CyclingLoader<Batch> {
  readonly #seen: Batch[] = [];
  #iterator: Iterator<Batch> | AsyncIterator<Batch> | null;
  #replay = 0;
  lap = 0;

  constructor(source: EvaDataloader<Batch>) {
    this.#iterator = isAsyncIterable<Batch>(source)
      ? source[Symbol.asyncIterator]()
      : (source as Iterable<Batch>)[Symbol.iterator]();
  }

  /** Batches read from the loader so far (the length of one lap once `lap` > 0). */
  get size(): number {
    return this.#seen.length;
  }

  /** The next batch, or undefined when the loader yielded nothing at all. */
  async next(): Promise<Batch | undefined> {
    if (this.#iterator) {
      const result = await this.#iterator.next();
      if (!result.done) {
        this.#seen.push(result.value);
        return result.value;
      }
      this.#iterator = null;
      this.lap = 1;
    }
    if (this.#seen.length === 0) return undefined;
    const batch = this.#seen[this.#replay]!;
    this.#replay = (this.#replay + 1) % this.#seen.length;
    if (this.#replay === 0) this.lap++;
    return batch;
  }

  /** Returns the underlying iterator (closes a generator that was not read to the end). */
  async close(): Promise<void> {
    const iterator = this.#iterator;
    this.#iterator = null;
    await iterator?.return?.();
  }
}
