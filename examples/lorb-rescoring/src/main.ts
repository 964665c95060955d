/**
 * `pnpm --filter @lorakit/example-lorb-rescoring start [--small] [--out dir]`: runs the LoRB experiment
 * and prints its table; writes report.json and lorb-loss.png to --out (default ./output).
 */
import { resolve } from 'node:path';
import { chooseBackend } from './backend.js';
import { FULL, formatReport, runExperiment, SMALL } from './run.js';

const args = process.argv.slice(2);
const small = args.includes('--small');
const outIndex = args.indexOf('--out');
const out = resolve(process.env.INIT_CWD ?? process.cwd(), outIndex >= 0 ? args[outIndex + 1]! : 'output');
console.log(`backend: ${await chooseBackend()}`);
const report = await runExperiment(small ? SMALL : FULL, out);
console.log(`\n${formatReport(report)}\n\nplot: ${report.plot}`);
