export declare function findReferencePython(modules?: string[]): {
  python: string | undefined;
  reason: string | undefined;
};
export declare function runPython<T = unknown>(
  python: string,
  script: string,
  env?: Record<string, string>,
): T;
export declare function timeMedian(
  fn: () => unknown,
  options?: { repeats?: number; warmup?: number },
): number;
export declare function timeMedianAsync(
  fn: () => Promise<unknown>,
  options?: { repeats?: number; warmup?: number },
): Promise<number>;
export declare function printTable(title: string, rows: Record<string, unknown>[]): void;
export declare function ratio(ours: number | undefined, anchor: number | undefined): string;
