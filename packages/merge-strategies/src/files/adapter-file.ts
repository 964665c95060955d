import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  AdapterFormatError,
  KEY_PREFIX,
  type LoraConfig,
  type LoraLayerKind,
  readAdapterConfig,
  resolvePattern,
  UnsupportedFeatureError,
  WEIGHTS_NAME,
} from '@lorakit/lora';
import { SafetensorsFile } from '@lorakit/safetensors';
import { type Tensor, tensor } from '@lorakit/tensor';

/** Where one LoRA module's factors sit in an adapter file. */
export interface ModuleEntry {
  readonly path: string;
  readonly kind: LoraLayerKind;
  readonly aKey: string;
  readonly bKey: string;
  readonly aShape: readonly number[];
  readonly bShape: readonly number[];
}

const FACTOR_KEYS: readonly [suffix: string, factor: 'a' | 'b', embedding: boolean][] = [
  ['.lora_A.weight', 'a', false],
  ['.lora_B.weight', 'b', false],
  ['.lora_embedding_A', 'a', true],
  ['.lora_embedding_B', 'b', true],
];

/**
 * A PEFT adapter directory opened for merging: its config, and its LoRA modules found from the key
 * names, without reading any tensor data. The layer kind comes from the keys: `lora_embedding_A` is an
 * embedding, a lora_A of 3 or more dimensions a convolution, anything else a linear layer.
 */
export class AdapterFile {
  readonly config: LoraConfig;
  readonly modules = new Map<string, ModuleEntry>();
  readonly #file: SafetensorsFile;

  private constructor(
    readonly dir: string,
    config: LoraConfig,
    file: SafetensorsFile,
  ) {
    this.config = config;
    this.#file = file;
    try {
      this.scan();
    } catch (error) {
      file.close();
      throw error;
    }
  }

  static open(dir: string): AdapterFile {
    const config = readAdapterConfig(dir);
    checkMergeable(dir, config);
    const path = join(dir, WEIGHTS_NAME);
    if (!existsSync(path))
      throw new AdapterFormatError(`[combineAdapterFiles] ${dir} has no ${WEIGHTS_NAME}`);
    return new AdapterFile(dir, config, SafetensorsFile.open(path));
  }

  private scan(): void {
    const found = new Map<string, { a?: string; b?: string; embedding: boolean }>();
    const others: string[] = [];
    for (const key of this.#file.names()) {
      const match = FACTOR_KEYS.find(([suffix]) => key.endsWith(suffix) && key.startsWith(KEY_PREFIX));
      if (!match) {
        others.push(key);
        continue;
      }
      const [suffix, factor, embedding] = match;
      const path = key.slice(KEY_PREFIX.length, key.length - suffix.length);
      const entry = found.get(path) ?? { embedding };
      entry[factor] = key;
      found.set(path, entry);
    }
    if (others.length) {
      throw new AdapterFormatError(
        `[combineAdapterFiles] ${this.dir} holds tensors that are not LoRA factors (${others.slice(0, 5).join(', ')}${others.length > 5 ? `, … ${others.length - 5} more` : ''}); add_weighted_adapter does not combine them and writing them needs the base model — use addWeightedAdapter on a loaded model`,
      );
    }
    for (const [path, { a, b, embedding }] of found) {
      if (!a || !b) {
        throw new AdapterFormatError(
          `[combineAdapterFiles] ${this.dir}: module ${path} has ${a ? 'lora_A but no lora_B' : 'lora_B but no lora_A'}`,
        );
      }
      const aShape = this.#file.info(a).shape;
      const bShape = this.#file.info(b).shape;
      const kind: LoraLayerKind = embedding ? 'embedding' : aShape.length >= 3 ? 'conv' : 'linear';
      this.modules.set(path, { path, kind, aKey: a, bKey: b, aShape, bShape });
    }
  }

  /** scaling of one module: α/r (α/√r with rsLoRA), r and α after rank_pattern / alpha_pattern. */
  scaling(path: string): { r: number; scaling: number } {
    const r = resolvePattern(this.config.rankPattern, path, this.config.r);
    const alpha = resolvePattern(this.config.alphaPattern, path, this.config.loraAlpha);
    return { r, scaling: this.config.scalingFor(r, alpha) };
  }

  /** Reads one tensor as float32 (narrow floats are widened, as PEFT's autocast does). */
  read(key: string): Tensor {
    const { data, shape } = this.#file.readSync(key);
    const t = tensor(data as Float32Array, { shape });
    return t.dtype === 'float32' ? t : t.float();
  }

  close(): void {
    this.#file.close();
  }
}

/** What add_weighted_adapter cannot produce without the base model. */
function checkMergeable(dir: string, c: LoraConfig): void {
  const reasons: string[] = [];
  if (c.useDora) reasons.push('use_dora (the merged magnitude vector is initialized from the base weight)');
  if (c.loraBias) reasons.push('lora_bias (add_weighted_adapter does not combine lora_B biases)');
  if (c.bias !== 'none') reasons.push(`bias="${c.bias}" (the saved biases are base-model weights)`);
  if (c.modulesToSave?.length) reasons.push('modules_to_save (the merged copy comes from the base model)');
  if (reasons.length) {
    throw new UnsupportedFeatureError(
      `[combineAdapterFiles] ${dir} uses ${reasons.join('; ')}; merge it with addWeightedAdapter on a loaded model`,
    );
  }
}
