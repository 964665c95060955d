import { getBackend, listBackends, setDefaultBackend } from '@lorakit/tensor';
import { CliError } from './errors.js';

export const BACKEND_CHOICES = ['auto', 'js', 'cpu'] as const;

export interface BackendChoice {
  /** The backend every tensor is created on. */
  readonly name: string;
  /** Why: which was asked for and what was found. */
  readonly reason: string;
}

/** What the CLI uses of `@lorakit/cpu-backend` (importing it registers `cpu` when its addon loaded). */
interface CpuBackendModule {
  readonly registerCpuBackend?: () => boolean;
  readonly nativeAvailable?: boolean;
  readonly nativeLoadError?: string;
}

function hasBackend(name: string): boolean {
  return listBackends().some((entry) => entry.name === name);
}

/** Makes the native `cpu` backend available; returns why not when it cannot be. */
async function registerNativeCpu(): Promise<string | undefined> {
  if (hasBackend('cpu')) return undefined;
  let module: CpuBackendModule;
  try {
    module = (await import('@lorakit/cpu-backend')) as CpuBackendModule;
  } catch (error) {
    return `@lorakit/cpu-backend cannot be loaded (${(error as Error).message.split('\n')[0]})`;
  }
  if (hasBackend('cpu')) return undefined;
  if (module.nativeAvailable === false) {
    return `the native addon is not built (${module.nativeLoadError ?? 'unknown reason'})`;
  }
  if (typeof module.registerCpuBackend === 'function' && module.registerCpuBackend()) return undefined;
  return '@lorakit/cpu-backend registered no "cpu" backend';
}

/**
 * Chooses the compute backend — the CLI is the only place that does. `auto` prefers a registered native
 * `cpu` backend and falls back to the JavaScript reference backend; `cpu` insists on the native one.
 * `LORAKIT_BACKEND` sets the default.
 */
export async function chooseBackend(requested: string): Promise<BackendChoice> {
  if (!(BACKEND_CHOICES as readonly string[]).includes(requested)) {
    throw new CliError(
      `--backend must be one of ${BACKEND_CHOICES.join(', ')}, received ${JSON.stringify(requested)}`,
    );
  }
  if (requested === 'js') {
    setDefaultBackend('js');
    return { name: 'js', reason: 'JavaScript reference backend (--backend js)' };
  }
  const missing = await registerNativeCpu();
  if (missing === undefined) {
    setDefaultBackend('cpu');
    return { name: getBackend('cpu').name, reason: 'native CPU backend (@lorakit/cpu-backend)' };
  }
  if (requested === 'cpu') throw new CliError(`--backend cpu: ${missing}`);
  setDefaultBackend('js');
  return { name: 'js', reason: `JavaScript reference backend (no native cpu backend: ${missing})` };
}
