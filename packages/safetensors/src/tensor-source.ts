import type { ReadOptions, TensorData } from './decode.js';
import type { TensorInfo } from './header.js';

/**
 * Anything tensors can be read from by name: one safetensors file, or a sharded checkpoint.
 * Reads are lazy — only the requested tensor's bytes are touched.
 */
export interface TensorSource {
  /** Tensor names in file order. */
  names(): string[];
  has(name: string): boolean;
  /** dtype, shape and location of a tensor; throws with the list of names when it does not exist. */
  info(name: string): TensorInfo;
  readonly metadata: Readonly<Record<string, string>>;
  read(name: string, options?: ReadOptions): Promise<TensorData>;
  readSync(name: string, options?: ReadOptions): TensorData;
  /** The stored bytes of one tensor, little-endian, exactly as in the file. */
  readBytes(name: string): Promise<Uint8Array>;
  readBytesSync(name: string): Uint8Array;
  close(): void;
}
