const emitted = new Set<string>();

/**
 * Emits a process warning (type `LorakitWarning`) the first time a message is seen, as Python's default
 * warning filter shows a warning once per call site and text. A merge over hundreds of layers would
 * otherwise repeat the same line hundreds of times.
 */
export function warnOnce(message: string): void {
  if (emitted.has(message)) return;
  emitted.add(message);
  process.emitWarning(message, { type: 'LorakitWarning' });
}
