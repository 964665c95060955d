/**
 * LoRA on the Llama benchmark model (LLAMA_BENCH_CONFIG from @lorakit/bench-tools: vocab 4096, hidden 256,
 * intermediate 688, 4 layers, 8 heads; inputs of 8 × 128 tokens) against PEFT 0.21 on PyTorch CPU, on the
 * same weights and inputs, measured in the same run. For r = 8 and r = 16 (alpha 2r, no dropout) on
 * q_proj/v_proj and on all linear layers:
 *
 * - forward: inference with the adapter active (no grad);
 * - train step: forward, causal-LM loss, backward, AdamW (lr 1e-4) on the LoRA parameters only;
 * - the forward and the train step again inside `tidy()`, which disposes the forward's activations at the
 *   end so the cpu backend recycles their memory (the backward's temporaries are recycled either way);
 *   PEFT runs its plain forward and step for these rows;
 * - merge_and_unload of the whole model (a freshly loaded adapter each time; loading is not timed);
 * - save: `saveAdapter` / `save_pretrained` of the adapter (config + safetensors) to a fresh folder;
 * - load: `loadAdapter` / `PeftModel.from_pretrained` of that adapter onto a fresh base model (the base
 *   model's own loading is not timed).
 *
 * lorakit writes the base model (random init), the inputs and each adapter (lora_B drawn at random so the
 * adapter changes the output) to a temporary folder; PEFT loads them from there, and the causal-LM losses
 * of both sides before training are printed as a check that they compute the same thing. lorakit runs on
 * the fastest backend installed (`cpu` from @lorakit/cpu-backend when its addon is built, else the JS
 * reference backend; the first line says which). PyTorch gets the same number of threads
 * (LORAKIT_BENCH_THREADS, default 2; OMP_NUM_THREADS and torch.set_num_threads). The machine may be
 * shared, so the two sides alternate: each round times `repeats` runs of a step on lorakit, then on a
 * persistent PyTorch process; tables give medians over all rounds. Never fails on timings.
 *
 * Environment: LORAKIT_BENCH_ROUNDS and LORAKIT_BENCH_REPEATS (default 3 and 3; 1 and 1 on the JS
 * backend, where a train step takes seconds), LORAKIT_BENCH_BACKEND=js (the JS reference backend).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findReferencePython,
  interleave,
  LLAMA_BENCH_BATCH,
  LLAMA_BENCH_CONFIG,
  LLAMA_BENCH_SEQUENCE,
  PythonAnchor,
  printTable,
  ratio,
  useFastestBackend,
} from '@lorakit/bench-tools';
import { createModel, loadModel, type PreTrainedModel, saveModel } from '@lorakit/models';
import { AdamW } from '@lorakit/nn';
import {
  Generator,
  getBackend,
  noGrad,
  randint,
  randn,
  type Tensor,
  tidy,
  writeTensorFile,
} from '@lorakit/tensor';
import {
  getPeftModel,
  LoraConfig,
  type LoraLinear,
  loadAdapter,
  type PeftModel,
  saveAdapter,
} from '../src/index.js';

const { backend, label: backendLabel } = await useFastestBackend(import.meta.url);
const CONFIG = LLAMA_BENCH_CONFIG;
const BATCH = LLAMA_BENCH_BATCH;
const SEQUENCE = LLAMA_BENCH_SEQUENCE;
const threads = Number(process.env.LORAKIT_BENCH_THREADS ?? 2);
// A JS-backend train step takes seconds: one round of one run is enough there.
const rounds = Number(process.env.LORAKIT_BENCH_ROUNDS ?? (backend === 'js' ? 1 : 3));
const repeats = Number(process.env.LORAKIT_BENCH_REPEATS ?? (backend === 'js' ? 1 : 3));

interface Setup {
  readonly name: string;
  readonly r: number;
  readonly targets: string[] | 'all-linear';
}
const SETUPS: Setup[] = [
  { name: 'r8-qv', r: 8, targets: ['q_proj', 'v_proj'] },
  { name: 'r16-qv', r: 16, targets: ['q_proj', 'v_proj'] },
  { name: 'r8-all', r: 8, targets: 'all-linear' },
  { name: 'r16-all', r: 16, targets: 'all-linear' },
];
type Step = 'forward' | 'tidyForward' | 'train' | 'tidyTrain' | 'merge' | 'save' | 'load';
const STEPS: Step[] = ['forward', 'tidyForward', 'train', 'tidyTrain', 'merge', 'save', 'load'];
const STEP_LABELS: Record<Step, string> = {
  forward: 'forward (adapter active, no grad)',
  tidyForward: 'the same forward inside tidy()',
  train: 'train step (loss, backward, AdamW on LoRA)',
  tidyTrain: 'the same train step inside tidy()',
  merge: 'merge_and_unload (whole model)',
  save: 'save adapter',
  load: 'load adapter onto a base model',
};
const describe = (s: Setup) => `r=${s.r} ${s.targets === 'all-linear' ? 'all-linear' : s.targets.join(',')}`;

// Shared files: the base model, the inputs and one adapter per setup.
const root = mkdtempSync(join(tmpdir(), 'lorakit-lora-bench-'));
const baseDir = join(root, 'base');
const generator = new Generator(0);
const baseModel = createModel(CONFIG, { generator });
const parameterCount = baseModel.numParameters();
await saveModel(baseModel, baseDir);
const inputIds = randint(0, CONFIG.vocab_size, [BATCH, SEQUENCE], { generator, dtype: 'int64' });
await writeTensorFile(join(root, 'inputs.safetensors'), new Map([['input_ids', inputIds]]));

interface Ours {
  readonly setup: Setup;
  readonly dir: string;
  readonly peft: PeftModel;
  readonly optimizer: AdamW;
  readonly loss: number;
  readonly trainable: number;
}
const lossOf = (peft: PeftModel) =>
  noGrad(() => (peft.eval().call({ inputIds, labels: inputIds }) as { loss: Tensor }).loss.item());
const ours = new Map<string, Ours>();
for (const setup of SETUPS) {
  const dir = join(root, setup.name);
  const created = getPeftModel(
    await loadModel(baseDir),
    new LoraConfig({ r: setup.r, loraAlpha: 2 * setup.r, targetModules: setup.targets }),
  );
  noGrad(() => {
    for (const [, layer] of created.loraLayers()) {
      const b = (layer as LoraLinear).loraB('default').weight;
      b.assign(randn(b.shape, { generator, std: 0.02 }));
    }
  });
  await saveAdapter(created, dir);
  // The timed model is the saved adapter loaded back, as PEFT's is.
  const peft = loadAdapter(await loadModel(baseDir), dir, { isTrainable: true });
  const trainableParameters = peft.parameters().filter((p) => p.requiresGrad);
  ours.set(setup.name, {
    setup,
    dir,
    peft,
    optimizer: new AdamW(trainableParameters, { lr: 1e-4 }),
    loss: lossOf(peft),
    trainable: trainableParameters.reduce((n, p) => n + p.size, 0),
  });
}

/** Each step of lorakit: untimed preparation, then the timed part. */
async function runOurs(name: string, step: Step): Promise<number> {
  const { dir, peft, optimizer } = ours.get(name)!;
  let timed: () => unknown;
  let cleanup = () => {};
  switch (step) {
    case 'forward':
    case 'tidyForward': {
      const forward = () => noGrad(() => (peft.eval().call({ inputIds }) as { logits: Tensor }).logits);
      timed = step === 'forward' ? forward : () => tidy(forward);
      break;
    }
    case 'train':
    case 'tidyTrain': {
      const trainStep = () => {
        peft.train();
        optimizer.zeroGrad();
        (peft.call({ inputIds, labels: inputIds }) as { loss: Tensor }).loss.backward();
        optimizer.step();
      };
      timed = step === 'train' ? trainStep : () => tidy(trainStep);
      break;
    }
    case 'merge': {
      const fresh = loadAdapter(await loadModel(baseDir), dir);
      timed = () => fresh.mergeAndUnload();
      break;
    }
    case 'save': {
      const out = mkdtempSync(join(root, 'save-'));
      timed = () => saveAdapter(peft, out);
      cleanup = () => rmSync(out, { recursive: true, force: true });
      break;
    }
    case 'load': {
      const base: PreTrainedModel = await loadModel(baseDir);
      timed = () => loadAdapter(base, dir);
      break;
    }
  }
  const start = performance.now();
  await timed();
  const ms = performance.now() - start;
  cleanup();
  return ms;
}

/** A persistent PEFT process: "setup step count" per line in, one JSON list of milliseconds per line out. */
const anchorScript = `
import copy, json, shutil, sys, tempfile, time, warnings, torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import LlamaForCausalLM
from transformers.utils import logging
warnings.filterwarnings("ignore")
logging.set_verbosity_error()
logging.disable_progress_bar()
torch.set_num_threads(${threads})
root = ${JSON.stringify(root)}
ids = load_file(f"{root}/inputs.safetensors")["input_ids"]
base = LlamaForCausalLM.from_pretrained(f"{root}/base", dtype=torch.float32).eval()
names = ${JSON.stringify(SETUPS.map((s) => s.name))}
models, optimizers, losses = {}, {}, {}
for name in names:
    model = PeftModel.from_pretrained(copy.deepcopy(base), f"{root}/{name}", is_trainable=True)
    model.eval()
    with torch.no_grad():
        losses[name] = model(input_ids=ids, labels=ids, use_cache=False).loss.item()
    models[name] = model
    optimizers[name] = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

def run(name, step):
    model, opt = models[name], optimizers[name]
    cleanup = lambda: None
    if step in ("forward", "tidyForward"):
        def timed():
            model.eval()
            with torch.no_grad():
                model(input_ids=ids, use_cache=False)
    elif step in ("train", "tidyTrain"):
        def timed():
            model.train(); opt.zero_grad(set_to_none=True)
            model(input_ids=ids, labels=ids, use_cache=False).loss.backward(); opt.step()
    elif step == "merge":
        fresh = PeftModel.from_pretrained(copy.deepcopy(base), f"{root}/{name}")
        timed = lambda: fresh.merge_and_unload()
    elif step == "save":
        out = tempfile.mkdtemp(dir=root)
        timed = lambda: model.save_pretrained(out)
        cleanup = lambda: shutil.rmtree(out)
    elif step == "load":
        fresh = copy.deepcopy(base)
        timed = lambda: PeftModel.from_pretrained(fresh, f"{root}/{name}")
    t = time.perf_counter(); timed(); ms = (time.perf_counter() - t) * 1000
    cleanup()
    return ms

print(json.dumps(losses), flush=True)
for line in sys.stdin:
    name, step, count = line.split()
    print(json.dumps([run(name, step) for _ in range(int(count))]), flush=True)
`;

const { python, reason } = findReferencePython(['torch', 'transformers', 'peft']);
const anchor = python ? new PythonAnchor(python, anchorScript, { threads }) : undefined;
const peftLosses = await anchor?.next<Record<string, number>>();
const peftThreads = `${threads} thread${threads === 1 ? '' : 's'}`;
console.log(
  `Llama ${parameterCount.toLocaleString('en')} parameters, batch ${BATCH} × ${SEQUENCE}; lorakit on "${getBackend().name}" (${backendLabel}); anchor: ${python ? `PEFT on PyTorch CPU via ${python}, ${peftThreads}` : `none (${reason})`}`,
);
for (const { setup, loss, trainable } of ours.values()) {
  const theirs = peftLosses?.[setup.name];
  console.log(
    `  ${describe(setup)}: ${trainable.toLocaleString('en')} trainable; loss before training lorakit ${loss.toFixed(5)}, PEFT ${theirs === undefined ? 'n/a' : `${theirs.toFixed(5)} (|Δ| ${Math.abs(loss - theirs).toExponential(1)})`}`,
  );
}

// Warm-up (PyTorch's first runs on new shapes are several times slower; V8 compiles lorakit's code).
const tasks = SETUPS.flatMap((setup) => STEPS.map((step) => `${setup.name} ${step}`));
const split = (task: string) => task.split(' ') as [string, Step];
for (const task of tasks) {
  await runOurs(...split(task));
  await anchor?.request(`${task} 1`);
}
const times = await interleave({ tasks, ours: (task) => runOurs(...split(task)), anchor, rounds, repeats });
anchor?.close();
rmSync(root, { recursive: true, force: true });

printTable(
  `LoRA on the Llama benchmark model, lorakit "${getBackend().name}" backend (${backendLabel}) vs PEFT 0.21 on PyTorch CPU (${peftThreads}), median ms of ${rounds} interleaved rounds × ${repeats}`,
  SETUPS.flatMap((setup) =>
    STEPS.map((step) => {
      const { ours: a, anchor: b } = times.get(`${setup.name} ${step}`)!;
      return {
        adapter: describe(setup),
        step: STEP_LABELS[step],
        'lorakit ms': a.toFixed(1),
        'PEFT ms': b === undefined ? 'n/a' : b.toFixed(1),
        'time ratio (lorakit/PEFT)': ratio(a, b),
      };
    }),
  ),
);
