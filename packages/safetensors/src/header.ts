import { assertDtype, DTYPE_SIZE, type Dtype, shapeSize } from './dtypes.js';
import { SafetensorsFormatError } from './errors.js';

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
 * exactly the tensors, contiguously, without holes or overlaps (the format's invariant).
 */
export function parseHeader(headerBytes: Uint8Array, fileSize: number, source: string): SafetensorsHeader {
  const headerLength = headerBytes.length;
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (cause) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source} has a ${headerLength}-byte header that is not valid UTF-8 JSON: ${(cause as Error).message}`,
      { cause },
    );
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source}: the header must be a JSON object, received ${Array.isArray(raw) ? 'an array' : typeof raw}`,
    );
  }

  let metadata: Record<string, string> = {};
  let hasMetadata = false;
  const tensors: TensorInfo[] = [];
  const dataStart = 8 + headerLength;
  for (const [name, entry] of Object.entries(raw as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      metadata = parseMetadata(entry, source);
      hasMetadata = entry !== null;
      continue;
    }
    tensors.push(parseEntry(name, entry, dataStart, source));
  }
  // JSON.parse keeps the last of duplicate keys silently; detect duplicates on the raw text.
  rejectDuplicateNames(headerBytes, tensors.length + (METADATA_KEY in (raw as object) ? 1 : 0), source);

  tensors.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let expected = 0;
  for (const t of tensors) {
    const [start, end] = t.dataOffsets;
    if (start < expected) {
      const previous = tensors[tensors.indexOf(t) - 1]!;
      throw new SafetensorsFormatError(
        `[safetensors] ${source}: tensor "${t.name}" starts at data byte ${start} but "${previous.name}" ends at ${previous.dataOffsets[1]} (overlapping tensors)`,
      );
    }
    if (start > expected) {
      throw new SafetensorsFormatError(
        `[safetensors] ${source}: tensor "${t.name}" starts at data byte ${start} but the previous tensor ends at ${expected} (a hole of ${start - expected} bytes)`,
      );
    }
    expected = end;
  }
  const dataLength = expected;
  const available = fileSize - dataStart;
  if (dataLength > available) {
    const last = tensors[tensors.length - 1]!;
    throw new SafetensorsFormatError(
      `[safetensors] ${source}: tensor "${last.name}" ends at byte ${dataLength} but the file has ${available} data bytes (truncated file?)`,
    );
  }
  if (dataLength < available) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source}: the tensors cover ${dataLength} data bytes but the file has ${available} (trailing bytes after the last tensor)`,
    );
  }
  return { tensors, metadata, hasMetadata, headerLength, dataStart, dataLength };
}

function parseMetadata(entry: unknown, source: string): Record<string, string> {
  if (entry === null) return {};
  if (typeof entry !== 'object' || Array.isArray(entry)) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source}: __metadata__ must be an object of strings, received ${JSON.stringify(entry)}`,
    );
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(entry as Record<string, unknown>)) {
    if (typeof value !== 'string') {
      throw new SafetensorsFormatError(
        `[safetensors] ${source}: __metadata__["${key}"] must be a string, received ${JSON.stringify(value)}`,
      );
    }
    out[key] = value;
  }
  return out;
}

function parseEntry(name: string, entry: unknown, dataStart: number, source: string): TensorInfo {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source}: tensor "${name}" must be an object with dtype, shape and data_offsets, received ${JSON.stringify(entry)}`,
    );
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  const checkedDtype = assertDtype(dtype, name);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source}: tensor "${name}" has shape ${JSON.stringify(shape)}; expected an array of non-negative integers`,
    );
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[1] < offsets[0]
  ) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source}: tensor "${name}" has data_offsets ${JSON.stringify(offsets)}; expected [start, end] with 0 <= start <= end`,
    );
  }
  const [start, end] = offsets as [number, number];
  const elements = shapeSize(shape as number[]);
  const expectedBytes = elements * DTYPE_SIZE[checkedDtype];
  if (!Number.isSafeInteger(expectedBytes) || expectedBytes !== end - start) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source}: tensor "${name}" is ${checkedDtype} [${(shape as number[]).join(', ')}] = ${expectedBytes} bytes but its data_offsets [${start}, ${end}] span ${end - start} bytes`,
    );
  }
  return {
    name,
    dtype: checkedDtype,
    shape: Object.freeze([...(shape as number[])]),
    dataOffsets: [start, end],
    fileOffset: dataStart + start,
    byteLength: end - start,
  };
}

/**
 * JSON.parse silently keeps the last duplicate key. A duplicated tensor name is a corrupt file, so we
 * count top-level keys with a small scanner over the header text and compare.
 */
function rejectDuplicateNames(headerBytes: Uint8Array, parsedKeys: number, source: string): void {
  const text = new TextDecoder().decode(headerBytes);
  const keys = topLevelKeys(text);
  if (keys.length === parsedKeys) return;
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key)) {
      throw new SafetensorsFormatError(
        `[safetensors] ${source}: tensor "${key}" appears twice in the header`,
      );
    }
    seen.add(key);
  }
}

/** The keys of the outermost JSON object, in order (the text is already known to be valid JSON). */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        keys.push(JSON.parse(text.slice(i, j + 1)) as string);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return keys;
}
