import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from './errors.js';

/** Fails with a one-line message unless `path` is an existing directory. */
export function requireDirectory(path: string, what: string): string {
  if (!existsSync(path)) throw new CliError(`${what} ${path} does not exist`);
  if (!statSync(path).isDirectory()) throw new CliError(`${what} ${path} is a file, expected a directory`);
  return path;
}

/**
 * Fails with a one-line message when an output folder (`--out`) names an existing file: commands create
 * the folder when it is missing or fill/replace it when it is one, but never overwrite a file with it.
 */
export function requireOutputDirectory(path: string, what = '--out'): string {
  if (existsSync(path) && !statSync(path).isDirectory()) {
    throw new CliError(`${what} ${path} is a file, expected a directory (created when missing)`);
  }
  return path;
}

/** Fails with a one-line message unless `path` is an existing file. */
export function requireFile(path: string, what: string): string {
  if (!existsSync(path)) throw new CliError(`${what} ${path} does not exist`);
  if (statSync(path).isDirectory()) throw new CliError(`${what} ${path} is a directory, expected a file`);
  return path;
}

/** A model directory: it must hold config.json and safetensors weights. */
export function requireModelDirectory(path: string, what = 'model directory'): string {
  requireDirectory(path, what);
  if (!existsSync(join(path, 'config.json'))) {
    throw new CliError(`${what} ${path} has no config.json (expected a Hugging Face checkpoint folder)`);
  }
  const files = readdirSync(path);
  if (!files.some((f) => f.endsWith('.safetensors') || f === 'model.safetensors.index.json')) {
    throw new CliError(
      `${what} ${path} has no safetensors weights (model.safetensors or model.safetensors.index.json; .bin checkpoints are not read)`,
    );
  }
  return path;
}

/** An adapter directory: it must hold adapter_config.json and adapter_model.safetensors. */
export function requireAdapterDirectory(path: string, what = 'adapter directory'): string {
  requireDirectory(path, what);
  for (const file of ['adapter_config.json', 'adapter_model.safetensors']) {
    if (!existsSync(join(path, file))) {
      const nested = readdirSync(path).filter((d) => existsSync(join(path, d, 'adapter_config.json')));
      const hint = nested.length
        ? ` (it holds named adapters: ${nested.join(', ')}; pass one of those folders)`
        : '';
      throw new CliError(`${what} ${path} has no ${file}${hint}`);
    }
  }
  return path;
}

/** Total bytes of the files directly in a directory (or of one file). */
export function sizeOnDisk(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  let total = 0;
  for (const entry of readdirSync(path)) {
    const s = statSync(join(path, entry));
    if (s.isFile()) total += s.size;
  }
  return total;
}

/** "1.2 MB" (decimal units, as file managers and the Hub show sizes). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** 1234567 → "1,234,567". */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
