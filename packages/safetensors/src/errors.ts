/**
 * The root of every error lorakit throws on purpose. Callers catch by kind:
 * `catch (e) { if (e instanceof LorakitError) … }`.
 *
 * It lives in `@lorakit/safetensors` because that package is the root of the dependency graph;
 * `@lorakit/tensor` re-exports it, and every other package imports it from there.
 */
export class LorakitError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A safetensors file or index that cannot be read: bad header, bad layout, truncated data. */
export class SafetensorsFormatError extends LorakitError {}

/** A tensor name that is not in the file (the message lists what is). */
export class SafetensorsTensorNotFoundError extends LorakitError {}

/** Data handed to the writer that does not match the declared dtype or shape. */
export class SafetensorsWriteError extends LorakitError {}

/** A value that cannot be represented in the requested form (e.g. an int64 beyond int32 range). */
export class SafetensorsRangeError extends LorakitError {}

/** Formats a list of names for an error message, eliding the middle of long lists. */
export function listNames(names: readonly string[], limit = 20): string {
  if (names.length === 0) return '(none)';
  if (names.length <= limit) return names.join(', ');
  return `${names.slice(0, limit).join(', ')}, … (${names.length - limit} more)`;
}
