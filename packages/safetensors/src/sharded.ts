import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ReadOptions, TensorData } from './decode.js';
import { listNames, SafetensorsFormatError, SafetensorsTensorNotFoundError } from './errors.js';
import type { TensorInfo } from './header.js';
import { SafetensorsFile } from './reader.js';
import type { TensorSource } from './tensor-source.js';

/**
 * The metadata key that ties the files of one sharded save together: writers that know it put the same
 * random id into the index's `metadata` and every shard's `__metadata__`, and the reader refuses a shard
 * whose id differs from the index's.
 */
export const SAVE_ID_KEY = 'lorakit_save_id';

/** The `*.safetensors.index.json` that transformers writes beside sharded checkpoints. */
export interface ShardIndex {
  readonly metadata?: Record<string, unknown>;
  readonly weight_map: Record<string, string>;
}

/**
 * A sharded checkpoint: `model.safetensors.index.json` maps each tensor name to a shard file. Shards are
 * opened on first use; each tensor is read from its own shard with positioned reads.
 */
export class ShardedSafetensors implements TensorSource {
  readonly #shards = new Map<string, SafetensorsFile>();
  readonly #weightMap: Map<string, string>;
  /** The index's own `metadata` (e.g. `total_size`), values stringified. */
  readonly metadata: Readonly<Record<string, string>>;

  private constructor(
    readonly indexPath: string,
    index: ShardIndex,
  ) {
    this.#weightMap = new Map(Object.entries(index.weight_map));
    this.metadata = Object.fromEntries(
      Object.entries(index.metadata ?? {}).map(([k, v]) => [
        k,
        typeof v === 'string' ? v : JSON.stringify(v),
      ]),
    );
  }

  static open(indexPath: string): ShardedSafetensors {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(indexPath, 'utf8'));
    } catch (cause) {
      throw new SafetensorsFormatError(
        `[safetensors] cannot read shard index ${indexPath}: ${(cause as Error).message}`,
        { cause },
      );
    }
    const weightMap = (parsed as { weight_map?: unknown } | null)?.weight_map;
    if (
      weightMap === null ||
      typeof weightMap !== 'object' ||
      Array.isArray(weightMap) ||
      !Object.values(weightMap as object).every((v) => typeof v === 'string')
    ) {
      throw new SafetensorsFormatError(
        `[safetensors] shard index ${indexPath} must have a "weight_map" object of tensor name → shard file name`,
      );
    }
    for (const [name, file] of Object.entries(weightMap as Record<string, string>)) {
      if (file.includes('/') || file.includes('\\') || file === '..') {
        throw new SafetensorsFormatError(
          `[safetensors] shard index ${indexPath} maps "${name}" to "${file}"; shard names must be plain file names in the index's folder`,
        );
      }
    }
    return new ShardedSafetensors(indexPath, parsed as ShardIndex);
  }

  /** Shard file names, each once, in index order. */
  shardFiles(): string[] {
    return [...new Set(this.#weightMap.values())];
  }

  names(): string[] {
    return [...this.#weightMap.keys()];
  }

  has(name: string): boolean {
    return this.#weightMap.has(name);
  }

  #shardFor(name: string): SafetensorsFile {
    const file = this.#weightMap.get(name);
    if (file === undefined) {
      throw new SafetensorsTensorNotFoundError(
        `[safetensors] no tensor "${name}" in ${this.indexPath}; tensors in the index: ${listNames(this.names())}`,
      );
    }
    let shard = this.#shards.get(file);
    if (!shard) {
      shard = SafetensorsFile.open(join(dirname(this.indexPath), file));
      try {
        this.#checkSameSave(file, shard);
      } catch (error) {
        shard.close();
        throw error;
      }
      this.#shards.set(file, shard);
    }
    if (!shard.has(name)) {
      throw new SafetensorsFormatError(
        `[safetensors] ${this.indexPath} maps "${name}" to ${file}, but that shard has no such tensor; it holds: ${listNames(shard.names())}`,
      );
    }
    return shard;
  }

  /**
   * Refuses a shard from another save than the index: the save ids differ (when the index has one,
   * see {@link SAVE_ID_KEY}), or the shard holds tensors the index places elsewhere or not at all.
   */
  #checkSameSave(file: string, shard: SafetensorsFile): void {
    const id = this.metadata[SAVE_ID_KEY];
    const shardId = shard.metadata[SAVE_ID_KEY];
    if (id !== undefined && shardId !== id) {
      throw new SafetensorsFormatError(
        `[safetensors] ${file} is from another save than ${this.indexPath} (${SAVE_ID_KEY} ${shardId === undefined ? 'missing' : JSON.stringify(shardId)} in the shard, ${JSON.stringify(id)} in the index): the checkpoint mixes files of two saves`,
      );
    }
    const foreign = shard.names().filter((n) => {
      const mapped = this.#weightMap.get(n);
      return mapped !== undefined && mapped !== file;
    });
    if (foreign.length) {
      throw new SafetensorsFormatError(
        `[safetensors] ${file} holds tensors that ${this.indexPath} does not place in it (${listNames(foreign, 5)}): the checkpoint mixes files of two saves`,
      );
    }
  }

  info(name: string): TensorInfo {
    return this.#shardFor(name).info(name);
  }

  read(name: string, options?: ReadOptions): Promise<TensorData> {
    return this.#shardFor(name).read(name, options);
  }

  readSync(name: string, options?: ReadOptions): TensorData {
    return this.#shardFor(name).readSync(name, options);
  }

  readBytes(name: string): Promise<Uint8Array> {
    return this.#shardFor(name).readBytes(name);
  }

  readBytesSync(name: string): Uint8Array {
    return this.#shardFor(name).readBytesSync(name);
  }

  close(): void {
    for (const shard of this.#shards.values()) shard.close();
    this.#shards.clear();
  }
}
