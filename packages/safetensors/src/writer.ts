import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describeFsError } from './byte-source.js';
import type { TensorArray } from './decode.js';
import { DTYPE_ORDER, DTYPE_SIZE, DTYPES, type Dtype, isDtype, RAW_ARRAY, shapeSize } from './dtypes.js';
import { SafetensorsWriteError } from './errors.js';
import { encodeBFloat16, encodeFloat8E4M3, encodeFloat8E5M2, encodeFloat16 } from './float-codecs.js';
import { removeStaleTemporaries, temporaryName } from './temp-names.js';

/** The values of a tensor to write, or a function producing them when the writer reaches it. */
export type TensorValues = TensorArray | (() => TensorArray | Promise<TensorArray>);

/**
 * One tensor to write. `data` is either the dtype's natural typed array (the stored bit patterns, as a
 * raw read returns them), a `Float32Array`/`Float64Array` for any float dtype (converted, round to
 * nearest even), or an `Int32Array` for I64. Give a function to produce the values lazily: the writer
 * calls it when it reaches this tensor and drops the result afterwards, so at most one tensor's data
 * is held at a time.
 */
export interface TensorEntry {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly data: TensorValues;
}

export interface WriteOptions {
  /** `__metadata__` (string → string). Omitted from the file when undefined. */
  readonly metadata?: Readonly<Record<string, string>>;
}

interface PlannedTensor {
  readonly entry: TensorEntry;
  readonly start: number;
  readonly end: number;
}

interface Plan {
  readonly header: Uint8Array;
  readonly tensors: readonly PlannedTensor[];
  readonly dataLength: number;
}

const FLOAT_DTYPES = new Set<Dtype>(['F64', 'F32', 'F16', 'BF16', 'F8_E4M3', 'F8_E5M2']);

/**
 * Lays tensors out exactly as Python's `safetensors` does: by dtype rank (the Rust crate's `Dtype`
 * order) descending, then by name bytewise; header keys in that order after `__metadata__`; the JSON
 * compact and padded with spaces to a multiple of 8 bytes.
 */
export function planLayout(entries: readonly TensorEntry[], options: WriteOptions = {}): Plan {
  if (!Array.isArray(entries as unknown)) {
    throw new SafetensorsWriteError(
      `[safetensors.write] tensors must be an array of { name, dtype, shape, data }, received ${describe(entries)}`,
    );
  }
  const seen = new Set<string>();
  for (const [index, entry] of entries.entries()) validateEntry(entry, index, seen);
  const ordered = [...entries].sort(
    (a, b) =>
      DTYPE_ORDER[b.dtype] - DTYPE_ORDER[a.dtype] || Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)),
  );
  const parts: string[] = [];
  const { metadata } = options;
  if (
    metadata !== undefined &&
    (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))
  ) {
    throw new SafetensorsWriteError(
      `[safetensors.write] metadata must be an object of string values, received ${describe(metadata)}`,
    );
  }
  if (metadata !== undefined) {
    const meta = Object.entries(metadata).map(([key, value]) => {
      if (typeof value !== 'string') {
        throw new SafetensorsWriteError(
          `[safetensors.write] metadata[${describe(key)}] must be a string, received ${describe(value)}`,
        );
      }
      return `${JSON.stringify(key)}:${JSON.stringify(value)}`;
    });
    parts.push(`"__metadata__":{${meta.join(',')}}`);
  }
  const tensors: PlannedTensor[] = [];
  let offset = 0;
  for (const entry of ordered) {
    const end = offset + shapeSize(entry.shape) * DTYPE_SIZE[entry.dtype];
    tensors.push({ entry, start: offset, end });
    parts.push(
      `${JSON.stringify(entry.name)}:{"dtype":"${entry.dtype}","shape":[${entry.shape.join(',')}],"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(json, 8);
  return { header, tensors, dataLength: offset };
}

/** A value for an error message: short, never throwing (NaN stays NaN, functions and cycles are named). */
function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint' || value === undefined) return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) {
    const items = value.slice(0, 8).map((v) => (typeof v === 'object' && v !== null ? '…' : describe(v)));
    return `[${items.join(', ')}${value.length > 8 ? ', …' : ''}]`;
  }
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 80 ? `${text.slice(0, 80)}… (${text.length} characters)` : text;
}

function validateEntry(entry: TensorEntry, index: number, seen: Set<string>): void {
  if (entry === null || typeof entry !== 'object') {
    throw new SafetensorsWriteError(
      `[safetensors.write] tensor ${index} must be an object { name, dtype, shape, data }, received ${describe(entry)}`,
    );
  }
  const { name, dtype, shape } = entry;
  if (typeof name !== 'string' || name.length === 0 || name === '__metadata__') {
    throw new SafetensorsWriteError(
      `[safetensors.write] tensor name must be a non-empty string other than "__metadata__", received ${describe(name)}`,
    );
  }
  if (seen.has(name)) throw new SafetensorsWriteError(`[safetensors.write] tensor "${name}" is given twice`);
  seen.add(name);
  if (!isDtype(dtype)) {
    throw new SafetensorsWriteError(
      `[safetensors.write] tensor "${name}" has unknown dtype ${describe(dtype)}; valid dtypes: ${DTYPES.join(', ')}`,
    );
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsWriteError(
      `[safetensors.write] tensor "${name}" has shape ${describe(shape)}; expected an array of non-negative integers`,
    );
  }
  const bytes = shapeSize(shape) * DTYPE_SIZE[dtype];
  if (!Number.isSafeInteger(bytes)) {
    throw new SafetensorsWriteError(
      `[safetensors.write] tensor "${name}" has shape [${shape.join(', ')}], more than ${Number.MAX_SAFE_INTEGER} bytes`,
    );
  }
  if (typeof entry.data !== 'function') toBytes(entry, entry.data);
}

/** Converts values to the stored little-endian bytes of the entry's dtype, checking type and length. */
function toBytes(entry: TensorEntry, values: TensorArray): Uint8Array {
  const { name, dtype, shape } = entry;
  const count = shapeSize(shape);
  if (!ArrayBuffer.isView(values) || values.length !== count) {
    throw new SafetensorsWriteError(
      `[safetensors.write] tensor "${name}" has shape [${shape.join(', ')}] (${count} elements) but its data has ${
        ArrayBuffer.isView(values) ? `${values.length} elements` : `type ${typeof values}`
      }`,
    );
  }
  const natural = RAW_ARRAY[dtype];
  let stored: TensorArray;
  if (values.constructor === natural) {
    stored = values;
  } else if (FLOAT_DTYPES.has(dtype) && (values instanceof Float32Array || values instanceof Float64Array)) {
    stored = encodeFloats(dtype, values);
  } else if (dtype === 'I64' && values instanceof Int32Array) {
    stored = BigInt64Array.from(values, (v) => BigInt(v));
  } else {
    const accepted = [natural.name];
    if (FLOAT_DTYPES.has(dtype)) accepted.push('Float32Array', 'Float64Array');
    if (dtype === 'I64') accepted.push('Int32Array');
    throw new SafetensorsWriteError(
      `[safetensors.write] tensor "${name}" is ${dtype} but its data is a ${values.constructor.name}; expected ${[...new Set(accepted)].join(' or ')}`,
    );
  }
  return new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength);
}

function encodeFloats(dtype: Dtype, values: Float32Array | Float64Array): TensorArray {
  switch (dtype) {
    case 'F64':
      return Float64Array.from(values);
    case 'F32':
      return Float32Array.from(values);
    case 'F16':
      return encodeFloat16(values);
    case 'BF16':
      return encodeBFloat16(values);
    case 'F8_E4M3':
      return encodeFloat8E4M3(values);
    default:
      return encodeFloat8E5M2(values);
  }
}

async function resolveBytes(entry: TensorEntry): Promise<Uint8Array> {
  const values = typeof entry.data === 'function' ? await entry.data() : entry.data;
  return toBytes(entry, values);
}

function checkLength(planned: PlannedTensor, bytes: Uint8Array): void {
  if (bytes.length !== planned.end - planned.start) {
    throw new SafetensorsWriteError(
      `[safetensors.write] tensor "${planned.entry.name}" produced ${bytes.length} bytes; its dtype and shape need ${planned.end - planned.start}`,
    );
  }
}

/** Serializes tensors into one in-memory buffer (for small files and tests). */
export async function serializeSafetensors(
  entries: readonly TensorEntry[],
  options: WriteOptions = {},
): Promise<Uint8Array> {
  const plan = planLayout(entries, options);
  const out = new Uint8Array(plan.header.length + plan.dataLength);
  out.set(plan.header, 0);
  for (const planned of plan.tensors) {
    const bytes = await resolveBytes(planned.entry);
    checkLength(planned, bytes);
    out.set(bytes, plan.header.length + planned.start);
  }
  return out;
}

/**
 * Writes a safetensors file, streaming one tensor at a time, to a temporary file in the same folder
 * that is renamed into place only after everything was written and flushed. A failure leaves the
 * destination untouched (an earlier file there stays as it was) and no temporary file behind.
 */
export async function writeSafetensors(
  path: string,
  entries: readonly TensorEntry[],
  options: WriteOptions = {},
): Promise<void> {
  const plan = planLayout(entries, options);
  await writeAtomically(path, async (write) => {
    write(plan.header);
    for (const planned of plan.tensors) {
      const bytes = await resolveBytes(planned.entry);
      checkLength(planned, bytes);
      write(bytes);
    }
  });
}

/**
 * Runs `produce` against a temporary file beside `path`, then fsyncs and renames it over `path`. On any
 * error the temporary file is removed and the error rethrown. Temporary files of earlier writes to the
 * same path whose process was killed are removed first (see `temp-names.ts` for the names). Exported
 * for other writers that must not leave a truncated file behind (JSON configs, adapters).
 */
export async function writeAtomically(
  path: string,
  produce: (write: (bytes: Uint8Array) => void) => Promise<void> | void,
): Promise<void> {
  const folder = dirname(path);
  const name = basename(path);
  removeStaleTemporaries(folder, name, ['tmp']);
  const temporary = join(folder, temporaryName(name, 'tmp'));
  let fd: number;
  try {
    fd = openSync(temporary, 'wx');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' || code === 'ENOTDIR'
        ? `the folder ${folder} does not exist`
        : `cannot create a file in ${folder} (${describeFsError(cause)})`;
    throw new SafetensorsWriteError(`[safetensors.write] cannot write ${path}: ${reason}`, { cause });
  }
  let closed = false;
  try {
    await produce((bytes) => {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    });
    fsyncSync(fd);
    closeSync(fd);
    closed = true;
    renameSync(temporary, path);
  } catch (error) {
    if (!closed) closeSync(fd);
    rmSync(temporary, { force: true });
    throw error;
  }
}
