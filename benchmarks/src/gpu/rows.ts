/**
 * The rows of the GPU benchmark of "GPU training at full speed": each a model config, a LoRA variant, the
 * goal the issue sets, and the PEFT anchors the issue measured (one H100, PEFT 0.21, PyTorch 2.11, bf16,
 * AdamW, r = 16 on all seven linear projections, batch 8 × 1024) for comparison with this run's PEFT.
 */

/** The seven linear projections of a Llama-family decoder layer. */
export const TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** The 0.94 B Llama of the issue (LORAKIT_GPU_BENCH_LAYERS shrinks it for a quick run). */
export const LLAMA_CONFIG = {
  model_type: 'llama',
  vocab_size: 32000,
  hidden_size: 2048,
  intermediate_size: 5504,
  num_hidden_layers: Number(process.env.LORAKIT_GPU_BENCH_LAYERS ?? 16),
  num_attention_heads: 16,
  num_key_value_heads: 16,
  max_position_embeddings: 4096,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: false,
} as const;

/** Qwen2.5-0.5B's shape: q/k/v biases (model_type qwen2), tied embeddings, a 151,936-token vocabulary. */
export const QWEN_CONFIG = {
  model_type: 'qwen2',
  vocab_size: 151936,
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: Number(process.env.LORAKIT_GPU_BENCH_LAYERS ?? 24),
  num_attention_heads: 14,
  num_key_value_heads: 2,
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  rope_theta: 1_000_000,
  tie_word_embeddings: true,
  use_sliding_window: false,
} as const;

export type ModelConfig = typeof LLAMA_CONFIG | typeof QWEN_CONFIG;

export interface Goal {
  /** Step time the row must reach, in ms (for DoRA: relative to our LoRA step, see `relativeTo`). */
  readonly ms?: number;
  /** For DoRA: the step must take at most this multiple of the named row's step. */
  readonly relativeTo?: { readonly row: RowName; readonly factor: number };
  readonly gib: number;
  readonly text: string;
}

export interface RowSpec {
  readonly name: RowName;
  readonly title: string;
  readonly config: ModelConfig;
  readonly checkpointing: boolean;
  readonly dora: boolean;
  /** Also measure the forward unmerged vs merged and merge_and_unload (both sides). */
  readonly forward: boolean;
  readonly goal: Goal;
  /** The H100 anchors: PEFT eager and compiled, step ms and peak GiB. */
  readonly anchor: { readonly eager: [number, number]; readonly compiled?: [number, number] };
}

export const ROW_NAMES = ['llama', 'llama-checkpoint', 'llama-dora', 'qwen'] as const;
export type RowName = (typeof ROW_NAMES)[number];

export const ROWS: Readonly<Record<RowName, RowSpec>> = {
  llama: {
    name: 'llama',
    title: 'Llama 0.94 B, LoRA',
    config: LLAMA_CONFIG,
    checkpointing: false,
    dora: false,
    forward: true,
    goal: { ms: 100, gib: 14, text: '≤ 100 ms, ≤ 14 GiB' },
    anchor: { eager: [205, 22.2], compiled: [113, 16.1] },
  },
  'llama-checkpoint': {
    name: 'llama-checkpoint',
    title: 'Llama 0.94 B, LoRA, gradient checkpointing',
    config: LLAMA_CONFIG,
    checkpointing: true,
    dora: false,
    forward: false,
    goal: { ms: 150, gib: 5, text: '≤ 150 ms, ≤ 5 GiB' },
    anchor: { eager: [282, 5.9] },
  },
  'llama-dora': {
    name: 'llama-dora',
    title: 'Llama 0.94 B, DoRA',
    config: LLAMA_CONFIG,
    checkpointing: false,
    dora: true,
    forward: false,
    goal: { relativeTo: { row: 'llama', factor: 1.25 }, gib: 20, text: '≤ 1.25 × our LoRA step, ≤ 20 GiB' },
    anchor: { eager: [324, 37.7] },
  },
  qwen: {
    name: 'qwen',
    title: 'Qwen2.5-0.5B shape, LoRA',
    config: QWEN_CONFIG,
    checkpointing: false,
    dora: false,
    forward: false,
    goal: { ms: 110, gib: 12, text: '≤ 110 ms, ≤ 12 GiB' },
    anchor: { eager: [178, 32.3] },
  },
};

/** The goals of the forward and merge rows (PEFT on an H200: 79 ms unmerged, 44 ms merged, 58 ms merge). */
export const FORWARD_GOAL = { unmergedOverMerged: 1.1, mergeMs: 30 } as const;

/**
 * The rows to run: LORAKIT_GPU_BENCH_ROWS (comma-separated names), default all. Unknown names are an
 * error that lists the valid ones.
 */
export function selectedRows(value = process.env.LORAKIT_GPU_BENCH_ROWS): RowSpec[] {
  if (!value) return ROW_NAMES.map((n) => ROWS[n]);
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(ROW_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0)
    throw new Error(
      `LORAKIT_GPU_BENCH_ROWS: unknown row(s) ${unknown.join(', ')}; valid rows: ${ROW_NAMES.join(', ')}`,
    );
  return names.map((n) => ROWS[n as RowName]);
}
