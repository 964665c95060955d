/**
 * One lorakit merge in its own process, so that its peak memory (maxRSS) is the merge's alone, on the
 * fastest backend installed. Argument: a JSON `CombineAdapterFilesOptions` (without callbacks). Prints
 * `{"ms": …, "cpuMs": …, "maxRssMb": …, "backend": …}` last (CPU time of the whole process).
 */
import { useFastestBackend } from '@lorakit/bench-tools';
import { getBackend } from '@lorakit/tensor';
import { combineAdapterFiles } from '../src/index.js';

const { label } = await useFastestBackend(import.meta.url);

const request = JSON.parse(process.argv[2]!);
const start = performance.now();
await combineAdapterFiles(request);
const ms = performance.now() - start;
const usage = process.resourceUsage();
console.log(
  JSON.stringify({
    ms,
    cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
    maxRssMb: usage.maxRSS / 1024,
    backend: `"${getBackend().name}" (${label})`,
  }),
);
