import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFormatError } from './errors.js';
import { SafetensorsFile } from './reader.js';

/** A file whose header is exactly `text` (no padding) and whose data section is `data` bytes. */
function file(text: string, data = 0): Uint8Array {
  const json = Buffer.from(text);
  const out = new Uint8Array(8 + json.length + data);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

const open = (bytes: Uint8Array) => SafetensorsFile.fromBytes(bytes, 'bad.safetensors');
const u8 = (shape: string, offsets: string) =>
  `{"w":{"dtype":"U8","shape":${shape},"data_offsets":${offsets}}}`;

describe('header rules of the Rust safetensors crate', () => {
  const refused: [string, string, number, string][] = [
    [
      'a UTF-8 byte order mark',
      '\ufeff{}',
      0,
      'bad.safetensors has a 5-byte header that is not valid safetensors JSON: the header starts with a byte order mark',
    ],
    [
      'leading whitespace',
      ' {}',
      0,
      'bad.safetensors has a 3-byte header that is not valid safetensors JSON: the header starts with " "; it must start with "{"',
    ],
    [
      'an unpaired high surrogate in a name',
      '{"\\ud800":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}',
      0,
      'bad.safetensors has a 58-byte header that is not valid safetensors JSON: unpaired high surrogate in a string (at character 8)',
    ],
    [
      'an unpaired low surrogate in a name',
      '{"a\\udc00":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}',
      0,
      'bad.safetensors has a 59-byte header that is not valid safetensors JSON: unpaired low surrogate in a string (at character 9)',
    ],
    [
      '1e0 as a shape dimension',
      u8('[1e0]', '[0,1]'),
      1,
      'bad.safetensors: tensor "w" has shape [1e0]; expected an array of non-negative integers',
    ],
    [
      '1.0 as an offset',
      u8('[1]', '[0,1.0]'),
      1,
      'bad.safetensors: tensor "w" has data_offsets [0,1.0]; expected [start, end], integers with 0 <= start <= end',
    ],
    [
      'characters after the object',
      '{}x',
      0,
      'bad.safetensors has a 3-byte header that is not valid safetensors JSON: unexpected characters after the header object (at character 2)',
    ],
    [
      'a raw control character in a string',
      '{"a\u0001":1}',
      0,
      'bad.safetensors has a 8-byte header that is not valid safetensors JSON: control character U+0001 in a string (at character 3)',
    ],
  ];
  it.each(refused)('refuses %s', (_label, text, data, message) => {
    expect(() => open(file(text, data))).toThrow(SafetensorsFormatError);
    expect(() => open(file(text, data))).toThrow(`[safetensors] ${message}`);
  });

  it('accepts trailing padding spaces and a valid surrogate pair', () => {
    const parsed = open(file('{"\\ud83d\\ude00":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}   ', 1));
    expect(parsed.names()).toEqual(['😀']);
  });

  it('refuses a header nested 4,100 levels deep without exhausting the stack', () => {
    const deep = `{"w":${'['.repeat(4100)}${']'.repeat(4100)}}`;
    expect(() => open(file(deep))).toThrow(
      `[safetensors] bad.safetensors has a ${deep.length}-byte header that is not valid safetensors JSON: nesting deeper than 128 levels (at character 132)`,
    );
  });

  it('accepts nesting up to the limit inside an ignored field', () => {
    const inner = `${'['.repeat(126)}${']'.repeat(126)}`;
    const text = `{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":${inner}}}`;
    expect(open(file(text, 1)).names()).toEqual(['w']);
  });

  it('names the file for an unknown dtype and cuts an 18,000-character value', () => {
    const huge = 'X'.repeat(18000);
    const text = `{"w":{"dtype":"${huge}","shape":[],"data_offsets":[0,0]}}`;
    expect(() => open(file(text))).toThrow(
      `[safetensors] bad.safetensors: tensor "w" has unknown dtype "${'X'.repeat(79)}… (18002 characters); valid dtypes: F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U64, U32, U16, U8, BOOL`,
    );
  });

  it('gives a clear error for a folder and a missing path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'st-folder-'));
    try {
      expect(() => SafetensorsFile.open(dir)).toThrow(
        `[safetensors] ${dir} is a folder; expected a .safetensors file`,
      );
      expect(() => SafetensorsFile.open(join(dir, 'nope.safetensors'))).toThrow(
        `[safetensors] cannot open ${join(dir, 'nope.safetensors')}: it does not exist`,
      );
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
