import { assertDtype, DTYPE_SIZE, type Dtype, shapeSize } from './dtypes.js';
import { SafetensorsFormatError } from './errors.js';
import { HeaderJsonError, JsonNumber, type JsonValue, parseHeaderJson, preview } from './header-json.js';

/** What the header says about one tensor. Offsets are absolute positions in the file. */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Byte range `[start, end)` relative to the start of the data section, as stored in the header. */
  readonly dataOffsets: readonly [number, number];
  /** Absolute byte position of the first byte of this tensor in the file. */
  readonly fileOffset: number;
  readonly byteLength: number;
}

export interface SafetensorsHeader {
  /** Tensors in the order of their data in the file. */
  readonly tensors: readonly TensorInfo[];
  /** `__metadata__`: string keys to string values, or an empty object when absent. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Whether the header has a `__metadata__` entry at all (writing it back needs to know). */
  readonly hasMetadata: boolean;
  /** Length of the JSON header in bytes (the 8-byte length prefix excluded). */
  readonly headerLength: number;
  /** Absolute position of the data section (8 + headerLength). */
  readonly dataStart: number;
  /** Length of the data section implied by the tensors. */
  readonly dataLength: number;
}

/**
 * Largest header we accept. The Rust reference rejects headers over 100 MB; a real header is a few
 * hundred bytes per tensor, so this leaves room for ~10^5 tensors and stops a corrupt length from
 * making us allocate gigabytes.
 */
export const MAX_HEADER_LENGTH = 100_000_000;

const METADATA_KEY = '__metadata__';

/**
 * Reads the 8-byte little-endian header length. Throws when it points past the end of the file or
 * above {@link MAX_HEADER_LENGTH}.
 */
export function readHeaderLength(prefix: Uint8Array, fileSize: number, source: string): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source} is ${fileSize} bytes long; a safetensors file needs at least an 8-byte header length`,
    );
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const length = view.getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_LENGTH)) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source} declares a ${length}-byte header; the limit is ${MAX_HEADER_LENGTH} bytes (corrupt or not a safetensors file?)`,
    );
  }
  const n = Number(length);
  if (8 + n > fileSize) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source} declares a ${n}-byte header but the file has only ${fileSize - 8} bytes after the length prefix (truncated file?)`,
    );
  }
  return n;
}

/**
 * Parses and validates a header. `fileSize` is the size of the whole file; the data section must hold
 * exactly the tensors, contiguously, without holes or overlaps (the format's invariant). The JSON rules
 * are the Rust crate's (see {@link parseHeaderJson}); every message names `source`.
 */
export function parseHeader(headerBytes: Uint8Array, fileSize: number, source: string): SafetensorsHeader {
  const headerLength = headerBytes.length;
  let raw: JsonValue;
  try {
    raw = parseHeaderJson(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes));
  } catch (cause) {
    const reason = cause instanceof HeaderJsonError ? cause.message : 'it is not valid UTF-8';
    throw new SafetensorsFormatError(
      `[safetensors] ${source} has a ${headerLength}-byte header that is not valid safetensors JSON: ${reason}`,
      { cause },
    );
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || raw instanceof JsonNumber) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source}: the header must be a JSON object, received ${Array.isArray(raw) ? 'an array' : preview(raw)}`,
    );
  }

  let metadata: Record<string, string> = {};
  let hasMetadata = false;
  const tensors: TensorInfo[] = [];
  const dataStart = 8 + headerLength;
  for (const [name, entry] of Object.entries(raw)) {
    if (name === METADATA_KEY) {
      metadata = parseMetadata(entry, source);
      hasMetadata = entry !== null;
      continue;
    }
    tensors.push(parseEntry(name, entry, dataStart, source));
  }

  tensors.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let expected = 0;
  for (const [index, t] of tensors.entries()) {
    const [start, end] = t.dataOffsets;
    if (start < expected) {
      const previous = tensors[index - 1]!;
      throw new SafetensorsFormatError(
        `[safetensors] ${source}: tensor ${quote(t.name)} starts at data byte ${start} but ${quote(previous.name)} ends at ${previous.dataOffsets[1]} (overlapping tensors)`,
      );
    }
    if (start > expected) {
      throw new SafetensorsFormatError(
        `[safetensors] ${source}: tensor ${quote(t.name)} starts at data byte ${start} but the previous tensor ends at ${expected} (a hole of ${start - expected} bytes)`,
      );
    }
    expected = end;
  }
  const dataLength = expected;
  const available = fileSize - dataStart;
  if (dataLength > available) {
    const last = tensors[tensors.length - 1]!;
    throw new SafetensorsFormatError(
      `[safetensors] ${source}: tensor ${quote(last.name)} ends at byte ${dataLength} but the file has ${available} data bytes (truncated file?)`,
    );
  }
  if (dataLength < available) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source}: the tensors cover ${dataLength} data bytes but the file has ${available} (trailing bytes after the last tensor)`,
    );
  }
  return { tensors, metadata, hasMetadata, headerLength, dataStart, dataLength };
}

/** A tensor name for messages: quoted, and cut when a hostile file makes it very long. */
function quote(name: string): string {
  return preview(name);
}

function isRecord(value: JsonValue): value is { [key: string]: JsonValue } {
  return (
    value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof JsonNumber)
  );
}

function parseMetadata(entry: JsonValue, source: string): Record<string, string> {
  if (entry === null) return {};
  if (!isRecord(entry)) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source}: __metadata__ must be an object of strings, received ${preview(entry)}`,
    );
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== 'string') {
      throw new SafetensorsFormatError(
        `[safetensors] ${source}: __metadata__[${quote(key)}] must be a string, received ${preview(value)}`,
      );
    }
    out[key] = value;
  }
  return out;
}

/** The integers of a JSON array when every element is spelled as a non-negative safe integer. */
function integers(value: JsonValue | undefined): number[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: number[] = [];
  for (const v of value) {
    if (!(v instanceof JsonNumber) || !v.isInteger || !Number.isSafeInteger(v.value) || v.value < 0) {
      return undefined;
    }
    out.push(v.value);
  }
  return out;
}

function parseEntry(name: string, entry: JsonValue, dataStart: number, source: string): TensorInfo {
  if (!isRecord(entry)) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source}: tensor ${quote(name)} must be an object with dtype, shape and data_offsets, received ${preview(entry)}`,
    );
  }
  const { dtype, shape: rawShape, data_offsets: rawOffsets } = entry;
  const checkedDtype = assertDtype(dtype, name, source, preview);
  const shape = integers(rawShape);
  if (!shape) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source}: tensor ${quote(name)} has shape ${preview(rawShape)}; expected an array of non-negative integers`,
    );
  }
  const offsets = integers(rawOffsets);
  if (offsets?.length !== 2 || offsets[1]! < offsets[0]!) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source}: tensor ${quote(name)} has data_offsets ${preview(rawOffsets)}; expected [start, end], integers with 0 <= start <= end`,
    );
  }
  const [start, end] = offsets as [number, number];
  const elements = shapeSize(shape);
  const expectedBytes = elements * DTYPE_SIZE[checkedDtype];
  if (!Number.isSafeInteger(expectedBytes) || expectedBytes !== end - start) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source}: tensor ${quote(name)} is ${checkedDtype} [${shape.join(', ')}] = ${Number.isSafeInteger(expectedBytes) ? expectedBytes : 'too many'} bytes but its data_offsets [${start}, ${end}] span ${end - start} bytes`,
    );
  }
  return {
    name,
    dtype: checkedDtype,
    shape: Object.freeze(shape),
    dataOffsets: [start, end],
    fileOffset: dataStart + start,
    byteLength: end - start,
  };
}
