/**
 * EVA on the Llama benchmark model (LLAMA_BENCH_CONFIG from @lorakit/bench-tools: vocab 4096, hidden 256,
 * intermediate 688, 4 layers, 8 heads, random init) with 16 calibration batches of 8 × 128 tokens (the first 8 labels of each row are -100), r = 8,
 * rho 2, tau 0.99, on q_proj/v_proj (and on all linear layers with `LORAKIT_EVA_BENCH_TARGETS=qv,all`;
 * on the JS backend that run takes about an hour): the whole `initializeLoraEvaWeights` (the
 * data pass with its incremental PCAs, then loading the components) against PEFT's
 * `initialize_lora_eva_weights` on PyTorch (CPU, 2 threads), measured in the same run on the same weights
 * and batches (the model and data are written to a temporary folder for PyTorch). Also reported: the
 * batches each side forwarded before every layer converged, whether the ranks agree, and the time of
 * one plain forward pass on lorakit's backend, inside `tidy` as EVA runs it (most of each EVA step on the
 * JS backend; EVA's passes end after the last layer still fitting, so they cost less). lorakit runs on
 * the fastest backend installed (`cpu` from @lorakit/cpu-backend when its addon is built, else the
 * single-threaded JS reference backend; the first line says which; LORAKIT_BENCH_BACKEND=js forces JS).
 * Never fails on timings.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findReferencePython,
  LLAMA_BENCH_BATCH,
  LLAMA_BENCH_CONFIG,
  LLAMA_BENCH_SEQUENCE,
  printTable,
  ratio,
  runPython,
  timeMedian,
  useFastestBackend,
} from '@lorakit/bench-tools';
import { getPeftModel, LoraConfig } from '@lorakit/lora';
import { createModel, loadModel, saveModel } from '@lorakit/models';
import {
  Generator,
  getBackend,
  noGrad,
  ones,
  randint,
  type Tensor,
  tidy,
  writeTensorFile,
} from '@lorakit/tensor';
import { evaConfig, initializeLoraEvaWeights } from '../src/index.js';

const { label: backendLabel } = await useFastestBackend(import.meta.url);
const CONFIG = LLAMA_BENCH_CONFIG;
const BATCHES = 16;
const BATCH = LLAMA_BENCH_BATCH;
const SEQUENCE = LLAMA_BENCH_SEQUENCE;
const PROMPT = 8;
const R = 8;
const ALL_TARGETS: Record<string, [string, string[] | 'all-linear']> = {
  qv: ['q_proj, v_proj', ['q_proj', 'v_proj']],
  all: ['all-linear', 'all-linear'],
};
const TARGETS = Object.fromEntries(
  (process.env.LORAKIT_EVA_BENCH_TARGETS ?? 'qv').split(',').map((key) => {
    const entry = ALL_TARGETS[key.trim()];
    if (!entry) throw new Error(`LORAKIT_EVA_BENCH_TARGETS: unknown "${key}"; choose from qv, all`);
    return entry;
  }),
);

const dir = mkdtempSync(join(tmpdir(), 'eva-bench-'));
const generator = new Generator(0);
await saveModel(createModel(CONFIG, { generator }), dir);
const batches = Array.from({ length: BATCHES }, () => {
  const inputIds = randint(0, CONFIG.vocab_size, [BATCH, SEQUENCE], { generator, dtype: 'int64' });
  const labels = inputIds.clone();
  labels.narrow(1, 0, PROMPT).assign(-100);
  return { inputIds, attentionMask: ones([BATCH, SEQUENCE], { dtype: 'int64' }), labels };
});
await writeTensorFile(
  join(dir, 'batches.safetensors'),
  new Map(
    batches.flatMap((b, i) => [
      [`${i}.input_ids`, b.inputIds],
      [`${i}.attention_mask`, b.attentionMask],
      [`${i}.labels`, b.labels],
    ]) as [string, Tensor][],
  ),
);

interface Run {
  ms: number;
  steps: number;
  ranks: Record<string, number>;
  forwardMs?: number;
}

const anchor = findReferencePython(['torch', 'peft', 'transformers']);
let torchRuns: Record<string, Run> | undefined;
if (anchor.python) {
  console.log('running PEFT …');
  torchRuns = runPython<Record<string, Run>>(
    anchor.python,
    `
import json, sys, time, warnings, torch
from peft import EvaConfig, LoraConfig, get_peft_model, initialize_lora_eva_weights
from safetensors.torch import load_file
from transformers import LlamaForCausalLM
from transformers.utils import logging
warnings.filterwarnings("ignore")
logging.disable_progress_bar()
torch.set_num_threads(2)
data = load_file(${JSON.stringify(join(dir, 'batches.safetensors'))})
batches = [{k: data[f"{i}.{k}"] for k in ("input_ids", "attention_mask", "labels")} for i in range(${BATCHES})]
out = {}
for name, targets in json.loads(${JSON.stringify(JSON.stringify(TARGETS))}).items():
    model = LlamaForCausalLM.from_pretrained(${JSON.stringify(dir)}).eval()
    with torch.no_grad():  # warm-up: PyTorch's first runs on new shapes are slower
        for b in batches[:3]: model(**b)
    peft_model = get_peft_model(model, LoraConfig(r=${R}, lora_alpha=${R}, target_modules=targets,
        init_lora_weights="eva", eva_config=EvaConfig(rho=2.0, tau=0.99)), low_cpu_mem_usage=True)
    steps = [0]
    def forward(m, inputs):
        steps[0] += 1
        return m(**inputs)
    t0 = time.perf_counter()
    initialize_lora_eva_weights(peft_model, batches, forward_fn=forward, show_progress_bar=False)
    ms = (time.perf_counter() - t0) * 1000
    ranks = {n: layer.r["default"] for n, layer in peft_model.named_modules() if hasattr(layer, "lora_A") and "default" in layer.r}
    out[name] = {"ms": ms, "steps": steps[0] - 1, "ranks": ranks}
    print(f"{name}: PEFT {ms / 1000:.1f} s for {steps[0] - 1} batches", file=sys.stderr, flush=True)
print(json.dumps(out))`,
    { OMP_NUM_THREADS: '2' },
  );
} else {
  console.log(`PEFT anchor missing: ${anchor.reason}`);
}

const ours: Record<string, Run> = {};
for (const [name, targetModules] of Object.entries(TARGETS)) {
  const model = await loadModel(dir);
  model.eval();
  // A plain forward of one batch in tidy, as EVA runs it (median of 2 after a warm-up), to show how much
  // of EVA is the model itself.
  const forwardMs = timeMedian(
    () =>
      noGrad(() =>
        tidy(() => {
          model.forward(batches[0]!);
        }),
      ),
    { repeats: 2, warmup: 1 },
  );
  const peft = getPeftModel(
    model,
    new LoraConfig({
      r: R,
      loraAlpha: R,
      targetModules: targetModules === 'all-linear' ? 'all-linear' : targetModules,
      initLoraWeights: 'eva',
      evaConfig: evaConfig({ rho: 2, tau: 0.99 }),
    }),
  );
  let steps = 0;
  const start = performance.now();
  await initializeLoraEvaWeights(peft, batches, { onProgress: (p) => (steps = p.step), log: () => {} });
  const ms = performance.now() - start;
  const ranks = Object.fromEntries(
    peft.loraLayers().map(([path, layer]) => [`base_model.model.${path}`, layer.r.get('default')!]),
  );
  ours[name] = { ms, steps, ranks, forwardMs };
  console.log(
    `${name}: lorakit ${(ms / 1000).toFixed(1)} s for ${steps} batches (forward ${forwardMs.toFixed(0)} ms)`,
  );
}
rmSync(dir, { recursive: true, force: true });

const sameRanks = (a: Record<string, number>, b: Record<string, number> | undefined) =>
  b === undefined
    ? 'n/a'
    : JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort())
      ? 'yes'
      : 'no';
printTable(
  `EVA (initializeLoraEvaWeights), Llama ${CONFIG.num_hidden_layers} layers × hidden ${CONFIG.hidden_size}, ${BATCHES} batches of ${BATCH} × ${SEQUENCE}, r ${R}; lorakit on the "${getBackend().name}" backend (${backendLabel}), PEFT on PyTorch CPU with 2 threads`,
  Object.entries(ours).map(([name, run]) => {
    const theirs = torchRuns?.[name];
    return {
      targets: name,
      'batches (lorakit / PEFT)': `${run.steps} / ${theirs?.steps ?? 'n/a'}`,
      'same ranks': sameRanks(run.ranks, theirs?.ranks),
      'lorakit s': (run.ms / 1000).toFixed(1),
      'PEFT s': theirs === undefined ? 'n/a' : (theirs.ms / 1000).toFixed(1),
      'time ratio (lorakit/PEFT)': ratio(run.ms, theirs?.ms),
      'lorakit ms/batch': (run.ms / (run.steps + 1)).toFixed(0),
      'PEFT ms/batch': theirs === undefined ? 'n/a' : (theirs.ms / (theirs.steps + 1)).toFixed(0),
      'lorakit plain forward ms (tidy)': run.forwardMs!.toFixed(0),
    };
  }),
);
