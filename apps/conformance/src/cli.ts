#!/usr/bin/env node
/**
 * `pnpm conformance [dir ...] [--only name,name]`: runs every case kind lorakit supports in each
 * directory of PEFT fixture cases (default: the shared PEFT fixtures and lorakit's own extra cases),
 * prints per case and per tensor the max error against the tolerance, and exits non-zero on any
 * failure or error. Kinds whose feature is not built are reported as pending, never as passing.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { extraFixturesDir, peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { registerAllKinds } from './kinds/index.js';
import { formatResults } from './report.js';
import { runAll } from './run.js';

const args = process.argv.slice(2);
let only: Set<string> | undefined;
const dirs: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--only') only = new Set(args[++i]!.split(','));
  // pnpm runs this from the package folder; INIT_CWD is where the user typed the command.
  else dirs.push(resolve(process.env.INIT_CWD ?? process.cwd(), args[i]!));
}
if (dirs.length === 0) {
  dirs.push(peftFixturesDir());
  if (existsSync(extraFixturesDir)) dirs.push(extraFixturesDir);
}
await registerAllKinds();
const results = await runAll(dirs, only ? (name) => only!.has(name) : undefined);
console.log(formatResults(results));
process.exitCode = results.some((r) => r.status === 'fail' || r.status === 'error') ? 1 : 0;
