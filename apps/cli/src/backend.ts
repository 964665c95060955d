import { getBackend, listBackends, setDefaultBackend } from '@lorakit/tensor';
import { backendPackages, type LorakitPackage } from './discovery.js';
import { CliError } from './errors.js';

export interface BackendChoice {
  /** The backend every tensor is created on. */
  readonly name: string;
  /** Why: which was asked for and what was found, and the device when the backend describes it. */
  readonly reason: string;
  /** The backend's own description of its device (`describe()`), when it has one. */
  readonly device?: string;
}

/**
 * The values `--backend` accepts: `auto`, `js` (tensor's JavaScript reference backend, always there) and
 * the backend of every installed package that declares one in its package.json
 * (`"lorakit": { "backend": "cpu", "priority": 10 }`), highest priority first. Nothing is imported.
 */
export function backendChoices(root?: string): string[] {
  const declared = backendPackages(root).map((p) => p.backend);
  return [...new Set(['auto', 'js', ...declared])];
}

function registered(name: string): boolean {
  return listBackends().some((entry) => entry.name === name);
}

/** Imports a backend package (which registers its backend); returns why its backend is missing after. */
async function importBackend(pkg: LorakitPackage & { backend: string }): Promise<string | undefined> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pkg.name)) as Record<string, unknown>;
  } catch (error) {
    return `${pkg.name} cannot be loaded (${String((error as Error).message).split('\n')[0]})`;
  }
  if (registered(pkg.backend)) return undefined;
  // Packages may say why (the cpu backend's addon may not be built): read what they export, if anything.
  const why = module.unavailableReason ?? module.nativeLoadError;
  return `${pkg.name} registered no "${pkg.backend}" backend${typeof why === 'string' && why ? ` (${why})` : ''}`;
}

/** The device description of a registered backend (its optional `describe()`), if it gives one. */
function deviceOf(name: string): string | undefined {
  const backend = getBackend(name) as unknown as { describe?: unknown };
  if (typeof backend.describe !== 'function') return undefined;
  try {
    const text = (backend.describe as () => unknown).call(backend);
    return typeof text === 'string' && text !== '' ? text : undefined;
  } catch {
    return undefined;
  }
}

function chosen(name: string, reason: string): BackendChoice {
  setDefaultBackend(name);
  const device = deviceOf(name);
  return device ? { name, reason: `${reason}; device: ${device}`, device } : { name, reason };
}

/**
 * Chooses the compute backend — the CLI is the only place that does. `auto` imports every installed
 * backend package and takes the highest-priority registered backend (a GPU backend, then `cpu`, then
 * `js`); a name insists on that backend. `LORAKIT_BACKEND` sets the default. `root` is the package whose
 * dependencies are searched (the CLI's; tests pass another).
 */
export async function chooseBackend(requested: string, root?: string): Promise<BackendChoice> {
  const packages = backendPackages(root);
  const choices = backendChoices(root);
  if (!choices.includes(requested)) {
    throw new CliError(
      `--backend must be one of ${choices.join(', ')}, received ${JSON.stringify(requested)}`,
    );
  }
  if (requested === 'js') return chosen('js', 'JavaScript reference backend (--backend js)');
  if (requested !== 'auto') {
    const pkg = packages.find((p) => p.backend === requested)!;
    const missing = await importBackend(pkg);
    if (missing) {
      throw new CliError(
        `--backend ${requested}: ${missing}; registered backends: ${listBackends()
          .map((b) => b.name)
          .join(', ')}`,
      );
    }
    return chosen(requested, `${pkg.name} (--backend ${requested})`);
  }
  const unavailable: string[] = [];
  for (const pkg of packages) {
    const missing = await importBackend(pkg);
    if (missing) unavailable.push(`${pkg.backend}: ${missing}`);
  }
  const best = listBackends()[0]!;
  const source = packages.find((p) => p.backend === best.name);
  const reason = source
    ? `highest-priority registered backend (${source.name}, priority ${best.priority})`
    : 'JavaScript reference backend';
  return chosen(best.name, unavailable.length ? `${reason}; unavailable: ${unavailable.join('; ')}` : reason);
}
