import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { type AdapterSummary, namedAdapterFolders, summarizeAdapter } from '../inspect/adapter-summary.js';
import { type FileSummary, summarizeFile } from '../inspect/file-summary.js';
import { type ModelSummary, summarizeModel } from '../inspect/model-summary.js';
import { formatBytes, formatCount } from '../paths.js';

type Summary = AdapterSummary | ModelSummary | FileSummary;

/** Decides what a path is and summarizes it. */
export function inspectPath(path: string): Summary[] {
  if (!existsSync(path)) throw new CliError(`${path} does not exist`);
  if (!statSync(path).isDirectory()) {
    if (!path.endsWith('.safetensors')) {
      throw new CliError(
        `${path} is not a .safetensors file; pass an adapter folder, a model folder or a .safetensors file`,
      );
    }
    if (
      basename(path) === 'adapter_model.safetensors' &&
      existsSync(join(dirname(path), 'adapter_config.json'))
    ) {
      return [summarizeAdapter(dirname(path))];
    }
    return [summarizeFile(path)];
  }
  if (existsSync(join(path, 'adapter_config.json'))) return [summarizeAdapter(path)];
  if (existsSync(join(path, 'config.json'))) return [summarizeModel(path)];
  const named = namedAdapterFolders(path);
  if (named.length) return named.map((name) => summarizeAdapter(join(path, name)));
  throw new CliError(
    `${path} is neither an adapter folder (adapter_config.json) nor a model folder (config.json)`,
  );
}

function dtypesText(dtypes: Record<string, number>): string {
  return Object.entries(dtypes)
    .map(([d, n]) => `${d} (${n} tensor${n === 1 ? '' : 's'})`)
    .join(', ');
}

function value(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function printAdapter(context: CommandContext, s: AdapterSummary): void {
  const c = s.config;
  context.print(`adapter  ${s.path}`);
  context.print(
    `  peft_type ${value(c.peft_type ?? 'LORA')}, task_type ${value(c.task_type ?? null)}, base model ${value(c.base_model_name_or_path ?? null)}`,
  );
  context.print(
    `  r ${value(c.r)}, lora_alpha ${value(c.lora_alpha)}${c.use_rslora ? ' (rsLoRA: alpha/sqrt(r))' : ''}, dropout ${value(c.lora_dropout)}, bias ${value(c.bias)}${c.use_dora ? ', DoRA' : ''}, init ${value(c.init_lora_weights)}`,
  );
  context.print(`  target_modules ${value(c.target_modules)}`);
  for (const key of [
    'exclude_modules',
    'modules_to_save',
    'layers_to_transform',
    'layer_replication',
  ] as const) {
    if (c[key] !== undefined && c[key] !== null) context.print(`  ${key} ${value(c[key])}`);
  }
  for (const key of ['rank_pattern', 'alpha_pattern'] as const) {
    const pattern = c[key] as Record<string, number> | undefined;
    if (pattern && Object.keys(pattern).length) context.print(`  ${key} ${value(pattern)}`);
  }
  const ranks = Object.entries(s.ranks)
    .map(([r, n]) => `r=${r} × ${n}`)
    .join(', ');
  context.print(`  ${s.modules.length} LoRA modules (${ranks || 'none'})`);
  const width = Math.max(6, ...s.modules.map((m) => m.name.length));
  context.print(`    ${'module'.padEnd(width)}  kind       rank  alpha  scaling  in → out       params`);
  for (const m of s.modules) {
    context.print(
      `    ${m.name.padEnd(width)}  ${(m.kind + (m.dora ? '+dora' : '')).padEnd(9)}  ${String(m.rank).padStart(4)}  ${String(m.alpha).padStart(5)}  ${m.scaling.toPrecision(4).padStart(7)}  ${`${m.inFeatures} → ${m.outFeatures}`.padEnd(13)}  ${formatCount(m.parameters).padStart(7)}`,
    );
  }
  for (const t of s.fullTensors) context.print(`    + ${t.name} [${t.shape.join(', ')}] (${t.role})`);
  context.print(
    `  ${formatCount(s.parameters)} parameters in ${s.tensors} tensors; dtypes ${dtypesText(s.dtypes)}; ${formatBytes(s.bytesOnDisk)} on disk`,
  );
}

function printModel(context: CommandContext, s: ModelSummary): void {
  context.print(`model  ${s.path}`);
  context.print(
    `  ${s.architecture} (model_type ${s.modelType}) ${Object.entries(s.config)
      .map(([k, v]) => `${k} ${value(v)}`)
      .join(', ')}`,
  );
  context.print(
    `  ${formatCount(s.parameters)} parameters in ${s.tensors} tensors${s.shards > 1 ? ` across ${s.shards} shards` : ''}; dtypes ${dtypesText(s.dtypes)}; ${formatBytes(s.bytesOnDisk)} on disk`,
  );
  const linear = Object.entries(s.linearModules).map(([n, k]) => `${n} × ${k}`);
  context.print(`  linear modules (LoRA targets): ${linear.join(', ') || '(none)'}`);
  context.print(`  tokenizer.json: ${s.tokenizer ? 'yes' : 'no'}`);
}

function printFile(context: CommandContext, s: FileSummary): void {
  context.print(`safetensors  ${s.path}`);
  if (Object.keys(s.metadata).length) context.print(`  metadata ${JSON.stringify(s.metadata)}`);
  const width = Math.max(...s.tensors.map((t) => t.name.length), 4);
  for (const t of s.tensors)
    context.print(`    ${t.name.padEnd(width)}  ${t.dtype.padEnd(7)} [${t.shape.join(', ')}]`);
  context.print(
    `  ${formatCount(s.parameters)} parameters in ${s.tensors.length} tensors; dtypes ${dtypesText(s.dtypes)}; ${formatBytes(s.bytesOnDisk)} on disk`,
  );
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .summary('summarize an adapter, a model folder or a safetensors file')
    .description(
      'Summarizes an adapter folder (config, targeted modules, ranks incl. rank_pattern, parameter counts, dtypes,\n' +
        'size on disk, and warnings for serving stacks that would reject it), a model folder (architecture,\n' +
        'parameters, LoRA-targetable linear modules) or a .safetensors file (its tensors). Reads headers only.',
    )
    .argument('<path>', 'adapter folder, model folder, or file.safetensors')
    .option('--strict', 'exit with code 3 when there are compatibility warnings')
    .addHelpText(
      'after',
      '\nExamples:\n  lorakit inspect ./adapter\n  lorakit inspect ./adapter --json | jq .modules\n  lorakit inspect ./llama/model.safetensors',
    )
    .action((path: string, flags: { strict?: boolean }, cmd: Command) => {
      const context = CommandContext.of(cmd);
      const summaries = inspectPath(path);
      for (const [i, s] of summaries.entries()) {
        if (i > 0) context.print();
        if (s.kind === 'adapter') printAdapter(context, s);
        else if (s.kind === 'model') printModel(context, s);
        else printFile(context, s);
        for (const w of s.warnings) context.print(`  warning: ${w}`);
      }
      context.result(summaries.length === 1 ? { ...summaries[0]! } : { adapters: summaries });
      if (flags.strict && summaries.some((s) => s.warnings.length)) process.exitCode = 3;
    });
}
