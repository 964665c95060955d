import type { Command } from 'commander';
export function registerConvert(_program: Command): void {}
