import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LorakitError, SafetensorsFormatError } from './errors.js';
import { SafetensorsFile } from './reader.js';
import { serializeSafetensors } from './writer.js';

/** Builds a file from a header object (or raw header text) and a data section. */
function file(header: unknown, data: Uint8Array | number = 0, declaredLength?: bigint): Uint8Array {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

const open = (bytes: Uint8Array) => SafetensorsFile.fromBytes(bytes, 'bad.safetensors');

describe('malformed files give a clear SafetensorsFormatError', () => {
  const cases: [string, Uint8Array, string][] = [
    [
      'empty file',
      new Uint8Array(0),
      'bad.safetensors is 0 bytes long; a safetensors file needs at least an 8-byte header length',
    ],
    [
      'header length beyond the file',
      file({}, 0, 1000n),
      'bad.safetensors declares a 1000-byte header but the file has only 2 bytes after the length prefix (truncated file?)',
    ],
    [
      'header length above the cap',
      file({}, 0, 2n ** 40n),
      'bad.safetensors declares a 1099511627776-byte header; the limit is 100000000 bytes (corrupt or not a safetensors file?)',
    ],
    [
      'invalid JSON',
      file('{"a":'),
      'bad.safetensors has a 5-byte header that is not valid safetensors JSON: unexpected end of the header (at character 5)',
    ],
    [
      'header not an object',
      file('[1,2]'),
      'bad.safetensors has a 5-byte header that is not valid safetensors JSON: the header starts with "["; it must start with "{"',
    ],
    [
      'unknown dtype',
      file({ w: { dtype: 'F12', shape: [1], data_offsets: [0, 2] } }, 2),
      'tensor "w" has unknown dtype "F12"; valid dtypes: F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U64, U32, U16, U8, BOOL',
    ],
    [
      'shape × dtype size differs from the byte range',
      file({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, 20),
      'tensor "w" is F32 [2, 3] = 24 bytes but its data_offsets [0, 20] span 20 bytes',
    ],
    [
      'negative shape',
      file({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4),
      'tensor "w" has shape [-1]; expected an array of non-negative integers',
    ],
    [
      'reversed offsets',
      file({ w: { dtype: 'U8', shape: [0], data_offsets: [4, 2] } }, 4),
      'bad.safetensors: tensor "w" has data_offsets [4,2]; expected [start, end], integers with 0 <= start <= end',
    ],
    [
      'offsets out of bounds (truncated data)',
      file({ w: { dtype: 'F32', shape: [1024], data_offsets: [0, 4096] } }, 1000),
      'tensor "w" ends at byte 4096 but the file has 1000 data bytes (truncated file?)',
    ],
    [
      'overlapping tensors',
      file(
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
        },
        12,
      ),
      'tensor "b" starts at data byte 4 but "a" ends at 8 (overlapping tensors)',
    ],
    [
      'a hole between tensors',
      file(
        {
          a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
          b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
        },
        12,
      ),
      'tensor "b" starts at data byte 8 but the previous tensor ends at 4 (a hole of 4 bytes)',
    ],
    [
      'trailing bytes',
      file({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 6),
      'the tensors cover 4 data bytes but the file has 6 (trailing bytes after the last tensor)',
    ],
    [
      'duplicate names',
      file(
        '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}',
        2,
      ),
      'bad.safetensors has a 105-byte header that is not valid safetensors JSON: key "a" appears twice in one object (at character 53)',
    ],
    [
      'metadata that is not strings',
      file({ __metadata__: { format: 1 } }),
      '__metadata__["format"] must be a string, received 1',
    ],
    [
      'a tensor entry that is not an object',
      file({ w: 3 }),
      'tensor "w" must be an object with dtype, shape and data_offsets, received 3',
    ],
  ];

  it.each(cases)('%s', (_label, bytes, message) => {
    expect(() => open(bytes)).toThrow(SafetensorsFormatError);
    expect(() => open(bytes)).toThrow(message);
  });
});

describe('fuzz: mutated valid files never crash or hang', () => {
  it('every mutation either parses and reads, or throws a LorakitError', async () => {
    const valid = await serializeSafetensors(
      [
        { name: 'ids', dtype: 'I64', shape: [2, 3], data: new BigInt64Array([1n, 2n, 3n, 4n, 5n, 6n]) },
        { name: 'w', dtype: 'F32', shape: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
        { name: 'h', dtype: 'BF16', shape: [4], data: new Float32Array([1, -1, 0.5, 2]) },
        { name: 'm', dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
      ],
      { metadata: { format: 'pt' } },
    );
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant('flip' as const),
        at: fc.nat(),
        value: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('extend' as const), bytes: fc.uint8Array({ maxLength: 16 }) }),
      fc.record({ kind: fc.constant('length' as const), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
    );
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        let bytes = valid.slice();
        for (const m of mutations) {
          if (m.kind === 'flip') bytes[m.at % bytes.length] = m.value;
          else if (m.kind === 'truncate') bytes = bytes.slice(0, m.at % (bytes.length + 1));
          else if (m.kind === 'extend') bytes = Uint8Array.from([...bytes, ...m.bytes]);
          else if (bytes.length >= 8) new DataView(bytes.buffer).setBigUint64(0, m.value, true);
        }
        try {
          const parsed = SafetensorsFile.fromBytes(bytes);
          for (const name of parsed.names()) parsed.readSync(name);
        } catch (error) {
          if (!(error instanceof LorakitError)) throw error;
        }
      }),
      { numRuns: 3000 },
    );
  });
});
