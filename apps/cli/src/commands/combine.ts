import type { Command } from 'commander';
export function registerCombine(_program: Command): void {}
