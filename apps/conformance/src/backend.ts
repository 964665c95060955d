import { getBackend, listBackends, setDefaultBackend } from '@lorakit/tensor';
import { ConformanceError } from './errors.js';
import { type LorakitPackage, lorakitPackages } from './packages.js';

/** The backend a run uses, and its device when the backend describes one (optional `describe()`). */
export interface SelectedBackend {
  readonly name: string;
  readonly device?: string;
}

async function load(pkg: LorakitPackage): Promise<string | undefined> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pkg.name)) as Record<string, unknown>;
  } catch (error) {
    return `${pkg.name} cannot be loaded (${String((error as Error).message).split('\n')[0]})`;
  }
  if (listBackends().some((b) => b.name === pkg.backend)) return undefined;
  const why = module.unavailableReason ?? module.nativeLoadError;
  return `${pkg.name} registered no "${pkg.backend}" backend${typeof why === 'string' && why ? ` (${why})` : ''}`;
}

function describe(name: string): SelectedBackend {
  const backend = getBackend(name) as unknown as { describe?: unknown };
  let device: unknown;
  try {
    device = typeof backend.describe === 'function' ? backend.describe.call(backend) : undefined;
  } catch {
    device = undefined;
  }
  return typeof device === 'string' && device !== '' ? { name, device } : { name };
}

/**
 * Makes `requested` the backend every tensor of the run is created on: `js` (tensor's reference, the
 * default), `auto` (the highest-priority backend that registers among the installed backend packages),
 * or the name of one of them. `root` is the package whose dependencies are searched (tests pass another).
 */
export async function selectBackend(requested: string, root?: string): Promise<SelectedBackend> {
  const packages = lorakitPackages(root).filter((p) => p.backend !== undefined);
  const choices = [...new Set(['auto', 'js', ...packages.map((p) => p.backend!)])];
  if (!choices.includes(requested)) {
    throw new ConformanceError(
      `[conformance] --backend must be one of ${choices.join(', ')} (the installed backend packages), received ${JSON.stringify(requested)}`,
    );
  }
  if (requested !== 'js') {
    const wanted = requested === 'auto' ? packages : packages.filter((p) => p.backend === requested);
    const missing: string[] = [];
    for (const pkg of wanted) {
      const why = await load(pkg);
      if (why) missing.push(why);
    }
    if (requested !== 'auto' && missing.length > 0) {
      throw new ConformanceError(
        `[conformance] --backend ${requested} is not available: ${missing.join('; ')}; registered backends: ${listBackends()
          .map((b) => b.name)
          .join(', ')}`,
      );
    }
  }
  const name = requested === 'auto' ? listBackends()[0]!.name : requested;
  setDefaultBackend(name);
  return describe(name);
}
