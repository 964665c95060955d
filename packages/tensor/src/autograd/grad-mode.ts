let enabled = true;

/** Whether ops record the graph for backward. */
export function isGradEnabled(): boolean {
  return enabled;
}

/** Runs `fn` without recording gradients (inference, optimizer updates, weight surgery). */
export function noGrad<T>(fn: () => T): T {
  const previous = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = previous;
  }
}

/** Async variant of {@link noGrad}. The flag is global: do not interleave with grad-recording work. */
export async function noGradAsync<T>(fn: () => Promise<T>): Promise<T> {
  const previous = enabled;
  enabled = false;
  try {
    return await fn();
  } finally {
    enabled = previous;
  }
}

/** Runs `fn` with recording switched on (inside a noGrad scope). */
export function enableGrad<T>(fn: () => T): T {
  const previous = enabled;
  enabled = true;
  try {
    return fn();
  } finally {
    enabled = previous;
  }
}
