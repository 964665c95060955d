import { InvalidArgumentError } from 'commander';

/** Commander parsers that reject bad numbers with a one-line message naming the expectation. */
export function integerOption(min = 0): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer ≥ ${min}, received ${JSON.stringify(value)}`);
    }
    return n;
  };
}

export function numberOption(options: { min?: number; max?: number; exclusiveMin?: boolean } = {}) {
  return (value: string): number => {
    const n = Number(value);
    const { min, max, exclusiveMin } = options;
    const low = min === undefined ? true : exclusiveMin ? n > min : n >= min;
    const high = max === undefined ? true : n <= max;
    if (value.trim() === '' || !Number.isFinite(n) || !low || !high) {
      const range =
        min !== undefined && max !== undefined
          ? ` in ${exclusiveMin ? '(' : '['}${min}, ${max}]`
          : min !== undefined
            ? ` ${exclusiveMin ? '>' : '≥'} ${min}`
            : '';
      throw new InvalidArgumentError(`expected a number${range}, received ${JSON.stringify(value)}`);
    }
    return n;
  };
}

/** "a,b, c" → ["a", "b", "c"]. */
export function listOption(value: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0)
    throw new InvalidArgumentError(`expected a comma-separated list, received ${JSON.stringify(value)}`);
  return items;
}

/** "0.7,0.3" → [0.7, 0.3]. */
export function numberListOption(value: string): number[] {
  return listOption(value).map((item) => {
    const n = Number(item);
    if (!Number.isFinite(n))
      throw new InvalidArgumentError(`expected comma-separated numbers, received ${JSON.stringify(value)}`);
    return n;
  });
}
