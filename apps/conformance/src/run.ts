import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type CaseResult, type Check, PendingError } from './report.js';

/** What a kind handler gets for one case. */
export interface CaseContext {
  readonly dir: string;
  readonly name: string;
  readonly spec: Record<string, unknown> & { kind: string; atol?: number; rtol?: number };
}

export type KindHandler = (context: CaseContext) => Promise<Check[]> | Check[];

const handlers = new Map<string, KindHandler>();

/** Registers the handler of a case kind (forward, layers, init, …). */
export function registerKind(kind: string, handler: KindHandler): void {
  handlers.set(kind, handler);
}

export function registeredKinds(): string[] {
  return [...handlers.keys()];
}

/** The case folders under `root` (any folder with a case.json), sorted by name. */
export function discoverCases(root: string): string[] {
  if (!existsSync(root)) throw new Error(`conformance: ${root} does not exist`);
  if (existsSync(join(root, 'case.json'))) return [root];
  return readdirSync(root)
    .map((name) => join(root, name))
    .filter((dir) => statSync(dir).isDirectory() && existsSync(join(dir, 'case.json')))
    .sort();
}

/** Runs one case: a handler that throws PendingError makes the case pending, any other error an error. */
export async function runCase(
  dir: string,
  filter?: (name: string) => boolean,
): Promise<CaseResult | undefined> {
  const name = basename(dir);
  if (filter && !filter(name)) return undefined;
  let spec: CaseContext['spec'];
  try {
    spec = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
  } catch (error) {
    return {
      name,
      kind: '?',
      status: 'error',
      checks: [],
      reason: `case.json is unreadable: ${(error as Error).message}`,
    };
  }
  const kind = String(spec.kind);
  const handler = handlers.get(kind);
  if (!handler)
    return {
      name,
      kind,
      status: 'pending',
      checks: [],
      reason: `kind "${kind}" is not supported by this runner`,
    };
  try {
    const checks = await handler({ dir, name, spec });
    if (checks.length === 0)
      return { name, kind, status: 'error', checks, reason: 'the handler compared nothing' };
    return { name, kind, status: checks.every((c) => c.ok) ? 'pass' : 'fail', checks };
  } catch (error) {
    if (error instanceof PendingError)
      return { name, kind, status: 'pending', checks: [], reason: error.message };
    return { name, kind, status: 'error', checks: [], reason: (error as Error).stack ?? String(error) };
  }
}

export async function runAll(
  roots: readonly string[],
  filter?: (name: string) => boolean,
): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const root of roots) {
    for (const dir of discoverCases(root)) {
      const result = await runCase(dir, filter);
      if (result) results.push(result);
    }
  }
  return results;
}
