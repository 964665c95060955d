import { closeSync, fstatSync, openSync, read, readSync } from 'node:fs';
import { SafetensorsFormatError } from './errors.js';

/** Positioned reads over a file or an in-memory buffer. */
export interface ByteSource {
  /** A name for error messages (the path, or "<buffer>"). */
  readonly label: string;
  readonly size: number;
  readSync(position: number, length: number): Uint8Array;
  read(position: number, length: number): Promise<Uint8Array>;
  close(): void;
}

/** `fs.read` moves at most 2 GiB − 1 bytes per call. */
const MAX_READ = 0x7fff_f000;

export class FileByteSource implements ByteSource {
  readonly size: number;
  #fd: number | undefined;

  constructor(readonly label: string) {
    let fd: number;
    try {
      fd = openSync(label, 'r');
    } catch (cause) {
      throw new SafetensorsFormatError(`[safetensors] cannot open ${label}: ${describeFsError(cause)}`, {
        cause,
      });
    }
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      closeSync(fd);
      throw new SafetensorsFormatError(
        `[safetensors] ${label} is ${stat.isDirectory() ? 'a folder' : 'not a regular file'}; expected a .safetensors file`,
      );
    }
    this.#fd = fd;
    this.size = stat.size;
  }

  #descriptor(): number {
    if (this.#fd === undefined) throw new SafetensorsFormatError(`[safetensors] ${this.label} was closed`);
    return this.#fd;
  }

  readSync(position: number, length: number): Uint8Array {
    const fd = this.#descriptor();
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, Math.min(MAX_READ, length - done), position + done);
      if (n === 0) throw this.#shortRead(position, length, done);
      done += n;
    }
    return out;
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    const fd = this.#descriptor();
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = await new Promise<number>((resolve, reject) => {
        read(fd, out, done, Math.min(MAX_READ, length - done), position + done, (error, bytesRead) =>
          error ? reject(error) : resolve(bytesRead),
        );
      });
      if (n === 0) throw this.#shortRead(position, length, done);
      done += n;
    }
    return out;
  }

  #shortRead(position: number, length: number, done: number): SafetensorsFormatError {
    return new SafetensorsFormatError(
      `[safetensors] ${this.label}: expected ${length} bytes at position ${position} but the file ended after ${done} (was it truncated while open?)`,
    );
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/** A Node file-system error as a short phrase ("no such file or directory"), else its message. */
export function describeFsError(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  const phrases: Record<string, string> = {
    ENOENT: 'it does not exist',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'it is a folder',
    ENOTDIR: 'a part of the path is not a folder',
    EROFS: 'the file system is read-only',
    ENOSPC: 'no space left on the device',
  };
  return (code && phrases[code]) ?? message;
}

/** Reads from memory; results are views into the buffer, not copies. */
export class BufferByteSource implements ByteSource {
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    readonly label = '<buffer>',
  ) {
    this.size = bytes.length;
  }
  readSync(position: number, length: number): Uint8Array {
    return this.bytes.subarray(position, position + length);
  }
  async read(position: number, length: number): Promise<Uint8Array> {
    return this.readSync(position, length);
  }
  close(): void {}
}
