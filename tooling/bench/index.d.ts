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
