export declare function findReferencePython(modules?: string[]): {
  python: string | undefined;
  reason: string | undefined;
};
export declare function useFastestBackend(from?: string): Promise<{
  backend: 'cpu' | 'js';
  threads: number;
  label: string;
}>;
export declare function runPython<T = unknown>(
  python: string,
  script: string,
  env?: Record<string, string>,
): T;
/** The warm-up and request loop that ends an anchor script defining a `tasks` dict (see index.js). */
export declare const ANCHOR_TASK_LOOP: string;
export declare class PythonAnchor {
  constructor(python: string, script: string, options?: { threads?: number; env?: Record<string, string> });
  next<T = unknown>(): Promise<T>;
  request<T = unknown>(line: string): Promise<T>;
  close(): void;
}
export declare function interleave<Task extends string>(options: {
  tasks: readonly Task[];
  ours: (task: Task) => number | Promise<number>;
  anchor?: PythonAnchor;
  rounds?: number;
  repeats?: number;
  pauseMs?: number;
}): Promise<Map<Task, { ours: number; anchor: number | undefined }>>;
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
export declare const LLAMA_BENCH_CONFIG: Readonly<{
  model_type: 'llama';
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  max_position_embeddings: number;
  tie_word_embeddings: boolean;
}>;
export declare const LLAMA_BENCH_BATCH: number;
export declare const LLAMA_BENCH_SEQUENCE: number;
