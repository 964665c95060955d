/**
 * One lorakit merge in its own process, so that its peak memory (maxRSS) is the merge's alone. Argument:
 * a JSON `CombineAdapterFilesOptions` (without callbacks). Prints `{"ms": …, "cpuMs": …, "maxRssMb": …}` (CPU time of the whole process).
 */
import { combineAdapterFiles } from '../src/index.js';

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
  }),
);
