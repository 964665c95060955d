// Exploratory: time the LoRA training step on the default backend.
import { getPeftModel, LoraConfig } from '@lorakit/lora';
import { createModel } from '@lorakit/models';
import { AdamW } from '@lorakit/nn';
import { Generator, getBackend, noGrad, randint, setDefaultBackend } from '@lorakit/tensor';
import '../src/index.js';

if (process.env.BACKEND) setDefaultBackend(process.env.BACKEND);
const CONFIG = {
  model_type: 'llama',
  vocab_size: 4096,
  hidden_size: 256,
  intermediate_size: 688,
  num_hidden_layers: 4,
  num_attention_heads: 8,
  num_key_value_heads: 8,
  max_position_embeddings: 256,
  tie_word_embeddings: false,
};
const generator = new Generator(0);
const model = createModel(CONFIG, { generator });
const inputIds = randint(0, 4096, [8, 128], { generator });
const peft = getPeftModel(
  model,
  new LoraConfig({ r: 8, loraAlpha: 16, targetModules: ['q_proj', 'v_proj'] }),
);
const optimizer = new AdamW(
  peft.parameters().filter((p) => p.requiresGrad),
  { lr: 1e-4 },
);
const step = () => {
  peft.train();
  optimizer.zeroGrad();
  const { loss } = peft.call({ inputIds, labels: inputIds }) as { loss: { backward(): void } };
  loss.backward();
  optimizer.step();
};
const fwd = () =>
  noGrad(() => {
    peft.eval();
    peft.call({ inputIds });
  });
const stats = new Map<string, { ms: number; calls: number }>();
if (process.env.KSTATS) {
  const backend = getBackend() as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(backend)) {
    if (typeof value !== 'function') continue;
    const f = value as (...args: unknown[]) => unknown;
    backend[key] = (...args: unknown[]) => {
      const shapeOf = (v: unknown) => {
        const view = v as { shape?: number[]; strides?: number[] } | null;
        return view && Array.isArray(view.shape)
          ? `[${view.shape}]/${view.strides}`
          : typeof v === 'number'
            ? String(v)
            : '';
      };
      const label =
        (key === 'unary' || key === 'binary' || key === 'reduce' ? `${key}:${args[0]}` : key) +
        (process.env.KSTATS === '2' ? ` ${args.map(shapeOf).filter(Boolean).join(' ')}` : '');
      const t = performance.now();
      const r = f(...args);
      const e = stats.get(label) ?? { ms: 0, calls: 0 };
      e.ms += performance.now() - t;
      e.calls++;
      stats.set(label, e);
      return r;
    };
  }
}
const reps = Number(process.env.REPS ?? 5);
for (const [name, f] of [
  ['forward', fwd],
  ['train', step],
] as const) {
  f();
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c = process.cpuUsage();
    const t = performance.now();
    f();
    times.push(performance.now() - t);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  cpu.sort((a, b) => a - b);
  console.log('  cpu ms', cpu.map((t) => t.toFixed(0)).join(' '));
  times.sort((a, b) => a - b);
  if (process.env.KSTATS) {
    const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 45);
    for (const [k, v] of rows)
      console.log(
        k.padEnd(process.env.KSTATS === '2' ? 90 : 24),
        (v.ms / (reps + 1)).toFixed(2).padStart(8),
        'ms/step',
        String(v.calls / (reps + 1)).padStart(6),
        'calls/step',
      );
    stats.clear();
  }
  console.log(
    getBackend().name,
    name,
    times.map((t) => t.toFixed(0)).join(' '),
    'median',
    times[Math.floor(reps / 2)]!.toFixed(0),
  );
}
