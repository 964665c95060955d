#!/usr/bin/env node
/**
 * `pnpm conformance [dir ...] [--only name,name] [--backend name]`: runs every case kind lorakit supports
 * in each directory of PEFT fixture cases (default: the shared PEFT fixtures and lorakit's own extra
 * cases) on the chosen backend (default js; `auto` or any installed backend package's name), prints per
 * case and per tensor the max error against the tolerance, and exits non-zero on any failure or error.
 * Kinds whose feature is not built are reported as pending, never as passing.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { LorakitError } from '@lorakit/tensor';
import { extraFixturesDir, peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { parseArguments } from './arguments.js';
import { selectBackend } from './backend.js';
import { registerAllKinds } from './kinds/index.js';
import { formatResults } from './report.js';
import { runAll } from './run.js';

try {
  // pnpm runs this from the package folder; INIT_CWD is where the user typed the command.
  const options = parseArguments(process.argv.slice(2), process.env.INIT_CWD ?? process.cwd());
  const dirs = options.dirs.map((dir) => resolve(dir));
  if (dirs.length === 0) {
    dirs.push(peftFixturesDir());
    if (existsSync(extraFixturesDir)) dirs.push(extraFixturesDir);
  }
  const backend = await selectBackend(options.backend);
  console.log(`backend: ${backend.name}${backend.device ? ` (${backend.device})` : ''}`);
  await registerAllKinds();
  const only = options.only;
  const results = await runAll(dirs, only ? (name) => only.has(name) : undefined);
  console.log(formatResults(results));
  process.exitCode = results.some((r) => r.status === 'fail' || r.status === 'error') ? 1 : 0;
} catch (error) {
  if (!(error instanceof LorakitError)) throw error;
  console.error(error.message);
  process.exitCode = 2;
}
