import { BufferByteSource, type ByteSource, FileByteSource } from './byte-source.js';
import { decodeTensorBytes, type ReadOptions, type TensorData } from './decode.js';
import { listNames, SafetensorsFormatError, SafetensorsTensorNotFoundError } from './errors.js';
import { parseHeader, readHeaderLength, type SafetensorsHeader, type TensorInfo } from './header.js';
import type { TensorSource } from './tensor-source.js';

assertLittleEndian();

/**
 * One safetensors file, opened lazily: the header is parsed and validated on open; tensor data is read
 * on demand with positioned reads, one tensor at a time.
 *
 * @example
 * ```ts
 * const file = SafetensorsFile.open('adapter_model.safetensors');
 * for (const t of file.tensors) console.log(t.name, t.dtype, t.shape);
 * const { data } = file.readSync('base_model.model.lin.lora_A.weight'); // Float32Array
 * file.close();
 * ```
 */
export class SafetensorsFile implements TensorSource {
  readonly header: SafetensorsHeader;
  readonly #byName: Map<string, TensorInfo>;

  private constructor(readonly source: ByteSource) {
    const prefix = source.readSync(0, Math.min(8, source.size));
    const headerLength = readHeaderLength(prefix, source.size, source.label);
    this.header = parseHeader(source.readSync(8, headerLength), source.size, source.label);
    this.#byName = new Map(this.header.tensors.map((t) => [t.name, t]));
  }

  /** Opens a file and parses its header (no tensor data is read). */
  static open(path: string): SafetensorsFile {
    const source = new FileByteSource(path);
    try {
      return new SafetensorsFile(source);
    } catch (error) {
      source.close();
      throw error;
    }
  }

  /** Reads safetensors bytes that are already in memory. Raw reads return views into `bytes`. */
  static fromBytes(bytes: Uint8Array, label?: string): SafetensorsFile {
    return new SafetensorsFile(new BufferByteSource(bytes, label));
  }

  get path(): string {
    return this.source.label;
  }

  /** Tensors in the order their data is stored. */
  get tensors(): readonly TensorInfo[] {
    return this.header.tensors;
  }

  get metadata(): Readonly<Record<string, string>> {
    return this.header.metadata;
  }

  names(): string[] {
    return this.header.tensors.map((t) => t.name);
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.#byName.get(name);
    if (!info) {
      throw new SafetensorsTensorNotFoundError(
        `[safetensors] no tensor "${name}" in ${this.source.label}; tensors in the file: ${listNames(this.names())}`,
      );
    }
    return info;
  }

  readBytesSync(name: string): Uint8Array {
    const info = this.info(name);
    return this.source.readSync(info.fileOffset, info.byteLength);
  }

  readBytes(name: string): Promise<Uint8Array> {
    const info = this.info(name);
    return this.source.read(info.fileOffset, info.byteLength);
  }

  readSync(name: string, options?: ReadOptions): TensorData {
    const info = this.info(name);
    return decodeTensorBytes(name, info.dtype, info.shape, this.readBytesSync(name), options);
  }

  async read(name: string, options?: ReadOptions): Promise<TensorData> {
    const info = this.info(name);
    return decodeTensorBytes(name, info.dtype, info.shape, await this.readBytes(name), options);
  }

  close(): void {
    this.source.close();
  }
}

function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new SafetensorsFormatError(
      '[safetensors] this platform is big-endian; safetensors data is little-endian',
    );
  }
}
