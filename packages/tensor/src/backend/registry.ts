import { BackendError } from '../errors.js';
import type { Backend } from './kernels.js';

interface Entry {
  readonly backend: Backend;
  readonly priority: number;
}

const entries = new Map<string, Entry>();
let explicitDefault: string | undefined;

/**
 * Registers a backend. The default backend is the registered one with the highest priority unless
 * {@link setDefaultBackend} chose one. Registering a name twice throws.
 */
export function registerBackend(backend: Backend, priority = 0): void {
  if (entries.has(backend.name)) {
    throw new BackendError(
      `[registerBackend] a backend named "${backend.name}" is already registered; registered: ${[...entries.keys()].join(', ')}`,
    );
  }
  entries.set(backend.name, { backend, priority });
}

/** Removes a backend (tests; a backend whose device went away). */
export function unregisterBackend(name: string): void {
  entries.delete(name);
  if (explicitDefault === name) explicitDefault = undefined;
}

export function listBackends(): { name: string; priority: number }[] {
  return [...entries.values()]
    .sort((a, b) => b.priority - a.priority)
    .map((e) => ({ name: e.backend.name, priority: e.priority }));
}

export function getBackend(name?: string): Backend {
  const wanted = name ?? explicitDefault;
  if (wanted !== undefined) {
    const entry = entries.get(wanted);
    if (!entry) {
      throw new BackendError(
        `[getBackend] no backend named "${wanted}"; registered backends: ${[...entries.keys()].join(', ') || '(none)'}`,
      );
    }
    return entry.backend;
  }
  let best: Entry | undefined;
  for (const entry of entries.values()) if (!best || entry.priority > best.priority) best = entry;
  if (!best) throw new BackendError('[getBackend] no backend is registered');
  return best.backend;
}

/** Makes `name` the backend new tensors are created on (`undefined` returns to priority order). */
export function setDefaultBackend(name: string | undefined): void {
  if (name !== undefined) getBackend(name);
  explicitDefault = name;
}

/** Runs `fn` with `name` as the default backend, restoring the previous default afterwards. */
export function withBackend<T>(name: string, fn: () => T): T {
  const previous = explicitDefault;
  setDefaultBackend(name);
  try {
    return fn();
  } finally {
    explicitDefault = previous;
  }
}
