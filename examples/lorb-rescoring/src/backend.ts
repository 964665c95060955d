import { listBackends, setDefaultBackend } from '@lorakit/tensor';

/**
 * Uses the native cpu backend when its addon is built (examples, like the CLI, choose the backend),
 * else the JavaScript reference backend. Returns the name and why.
 */
export async function chooseBackend(): Promise<string> {
  try {
    await import('@lorakit/cpu-backend');
  } catch (error) {
    return `js (@lorakit/cpu-backend cannot be loaded: ${String((error as Error).message).split('\n')[0]})`;
  }
  if (!listBackends().some((b) => b.name === 'cpu')) return 'js (the cpu backend addon is not built)';
  setDefaultBackend('cpu');
  return 'cpu';
}
