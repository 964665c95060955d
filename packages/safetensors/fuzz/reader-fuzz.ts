/**
 * Fuzzing the safetensors reader: mutated valid files and generated headers (deep nesting, huge values,
 * BOM, whitespace, surrogates, float-spelled integers, hostile lengths) must either open and read every
 * tensor, or throw a LorakitError whose message names the file and stays short. Anything else — a
 * TypeError, a RangeError from a blown stack, an unnamed or 18,000-character message — is a failure.
 *
 * The vitest suite runs a few seeded seconds of this (`src/fuzz.test.ts`); `pnpm fuzz` runs it for as
 * long as asked.
 */
import fc from 'fast-check';
import { LorakitError } from '../src/errors.js';
import { SafetensorsFile } from '../src/reader.js';
import { serializeSafetensors } from '../src/writer.js';

/** The label every message must name. */
export const FUZZ_LABEL = 'fuzz-case.safetensors';
/** Longest message the reader may produce for any input. */
export const MAX_MESSAGE_LENGTH = 600;

/** A valid file with several dtypes and metadata, the seed of the mutations. */
export async function seedFile(): Promise<Uint8Array> {
  return serializeSafetensors(
    [
      { name: 'ids', dtype: 'I64', shape: [2, 3], data: new BigInt64Array([1n, 2n, 3n, 4n, 5n, 6n]) },
      { name: 'w', dtype: 'F32', shape: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
      { name: 'h', dtype: 'BF16', shape: [4], data: new Float32Array([1, -1, 0.5, 2]) },
      { name: 'f8', dtype: 'F8_E4M3', shape: [2], data: new Float32Array([1, -2]) },
      { name: 'm', dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
    ],
    { metadata: { format: 'pt' } },
  );
}

/** Wraps header text (any bytes) and a data section into a file with a correct length prefix. */
export function withHeader(header: Uint8Array, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

type Mutation =
  | { kind: 'flip'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'extend'; bytes: Uint8Array }
  | { kind: 'length'; value: bigint }
  | { kind: 'splice'; at: number; text: string };

const TOKENS = [
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '"',
  '\\',
  '\\ud800',
  '\\udc00',
  '1e0',
  '1.0',
  '-1',
  '1e400',
  '9007199254740993',
  'null',
  'true',
  '"F32"',
  '"dtype"',
  '"shape"',
  '"data_offsets"',
  '"__metadata__"',
  '\ufeff',
  ' ',
  '\n',
  '\u0000',
];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('extend' as const), bytes: fc.uint8Array({ maxLength: 16 }) }),
  fc.record({ kind: fc.constant('length' as const), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), text: fc.constantFrom(...TOKENS) }),
);

function applyMutation(bytes: Uint8Array, m: Mutation): Uint8Array {
  switch (m.kind) {
    case 'flip': {
      const out = bytes.slice();
      if (out.length) out[m.at % out.length] = m.value;
      return out;
    }
    case 'truncate':
      return bytes.slice(0, m.at % (bytes.length + 1));
    case 'extend':
      return Uint8Array.from([...bytes, ...m.bytes]);
    case 'length': {
      const out = bytes.slice();
      if (out.length >= 8) new DataView(out.buffer).setBigUint64(0, m.value, true);
      return out;
    }
    case 'splice': {
      // Inserts a token inside the header and fixes the length prefix, so the JSON rules are reached.
      if (bytes.length < 8) return bytes;
      const declared = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
      const headerLength = Math.min(declared, bytes.length - 8);
      const header = bytes.subarray(8, 8 + headerLength);
      const at = m.at % (header.length + 1);
      const token = new TextEncoder().encode(m.text);
      const next = Uint8Array.from([...header.subarray(0, at), ...token, ...header.subarray(at)]);
      return withHeader(next, bytes.subarray(8 + headerLength));
    }
  }
}

/** Hostile headers built whole: deep nesting, long values, odd spellings. */
const generatedHeader: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 1, max: 6000 }).map((depth) => `{"w":${'['.repeat(depth)}${']'.repeat(depth)}}`),
  fc.integer({ min: 1, max: 6000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
  fc
    .integer({ min: 1, max: 20000 })
    .map((n) => `{"w":{"dtype":"${'X'.repeat(n)}","shape":[],"data_offsets":[0,0]}}`),
  fc
    .integer({ min: 1, max: 20000 })
    .map((n) => `{"${'n'.repeat(n)}":{"dtype":"Q","shape":[],"data_offsets":[0,0]}}`),
  fc
    .tuple(
      fc.constantFrom('1e0', '1.0', '1E0', '-0', '0', '01', '1', '2e-0'),
      fc.constantFrom('shape', 'data_offsets'),
    )
    .map(([n, field]) =>
      field === 'shape'
        ? `{"w":{"dtype":"U8","shape":[${n}],"data_offsets":[0,1]}}`
        : `{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,${n}]}}`,
    ),
  fc.constantFrom(
    '\ufeff{}',
    ' {}',
    '\n{}',
    '{} ',
    '{}\u0000',
    '{"\\ud800":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}',
    '{"\\udc00x":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}',
    '{"\\ud83d\\ude00":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}',
    '{"__metadata__":"x"}',
    '{"__metadata__":{"a":1}}',
    '{"__metadata__":null}',
    '{"w":null}',
    '{"w":{"dtype":"U8","shape":[9007199254740993],"data_offsets":[0,0]}}',
    '{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}',
  ),
  fc.json({ depthSize: 'small' }),
);

export type ReaderCase = { kind: 'mutated'; mutations: Mutation[] } | { kind: 'header'; text: string };

export const readerCase: fc.Arbitrary<ReaderCase> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .array(mutation, { minLength: 1, maxLength: 5 })
      .map((mutations) => ({ kind: 'mutated' as const, mutations })),
  },
  { weight: 1, arbitrary: generatedHeader.map((text) => ({ kind: 'header' as const, text })) },
);

/** Builds the bytes of a case from the seed file. */
export function caseBytes(seed: Uint8Array, c: ReaderCase): Uint8Array {
  if (c.kind === 'header') return withHeader(new TextEncoder().encode(c.text), new Uint8Array(0));
  let bytes = seed;
  for (const m of c.mutations) bytes = applyMutation(bytes, m);
  return bytes;
}

/**
 * The property: opening and reading either works or throws a LorakitError naming the file with a
 * bounded message. Throws an Error describing the violation otherwise.
 */
export function checkReaderCase(seed: Uint8Array, c: ReaderCase): 'accepted' | 'rejected' {
  const bytes = caseBytes(seed, c);
  try {
    const file = SafetensorsFile.fromBytes(bytes, FUZZ_LABEL);
    for (const name of file.names()) file.readSync(name);
    return 'accepted';
  } catch (error) {
    if (!(error instanceof LorakitError)) {
      throw new Error(
        `not a LorakitError: ${(error as Error)?.name}: ${String((error as Error)?.message).slice(0, 200)}`,
      );
    }
    if (!error.message.includes(FUZZ_LABEL)) {
      throw new Error(`message does not name the file: ${error.message.slice(0, 200)}`);
    }
    if (error.message.length > MAX_MESSAGE_LENGTH) {
      throw new Error(`message of ${error.message.length} characters: ${error.message.slice(0, 200)}…`);
    }
    return 'rejected';
  }
}
