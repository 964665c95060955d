#!/usr/bin/env node
// The README's main job until the `lorakit` CLI lands: inspect a PEFT adapter shipped with the repo,
// reading only the header and one tensor.
import { join } from 'node:path';
import { SafetensorsFile } from '@lorakit/safetensors';

const root = new URL('../..', import.meta.url).pathname;
const path = process.argv[2] ?? join(root, 'fixtures/peft/llama_qv/adapter/adapter_model.safetensors');
const file = SafetensorsFile.open(path);
console.log(`${path}\nmetadata: ${JSON.stringify(file.metadata)}\n`);
for (const t of file.tensors) {
  console.log(
    `${t.name.padEnd(70)} ${t.dtype.padEnd(5)} [${t.shape.join(', ')}]  bytes ${t.dataOffsets.join('–')}`,
  );
}
const first = file.tensors[0];
if (first) {
  const { data } = file.readSync(first.name);
  console.log(
    `\nfirst values of ${first.name}: ${Array.from(data.slice(0, 6), Number)
      .map((v) => v.toFixed(4))
      .join(', ')}`,
  );
}
file.close();
