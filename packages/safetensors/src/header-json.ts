/**
 * A strict JSON reader for safetensors headers, following what the Rust `safetensors` crate accepts
 * (it parses with serde_json):
 *
 * - the text must start with `{` — no UTF-8 byte order mark, no leading whitespace;
 * - only JSON whitespace (space, tab, CR, LF) may follow the object (writers pad with spaces);
 * - strings may not hold unpaired UTF-16 surrogates (`"\ud800"`), and raw control characters are refused;
 * - nesting is limited to {@link MAX_HEADER_DEPTH} levels (serde_json's recursion limit), so a hostile
 *   header cannot exhaust the stack;
 * - numbers keep their spelling, so a field that must be an integer can refuse `1e0` and `1.0` as the
 *   crate's `usize` fields do;
 * - a key given twice in one object is refused (JSON.parse would keep the last one silently).
 *
 * Errors are plain messages (`HeaderJsonError`); the caller adds the file name.
 */

/** serde_json's default recursion limit. */
export const MAX_HEADER_DEPTH = 128;

/** A JSON number as written: `value` and whether it is spelled as an integer (no fraction, no exponent). */
export class JsonNumber {
  constructor(
    readonly value: number,
    readonly text: string,
  ) {}
  get isInteger(): boolean {
    return /^-?\d+$/.test(this.text);
  }
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | { [key: string]: JsonValue };

/** A header that is not JSON the crate would accept; `position` is a character index. */
export class HeaderJsonError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(position > 0 ? `${message} (at character ${position})` : message);
  }
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/** Parses header text; the result's objects are null-prototype records in file order. */
export function parseHeaderJson(text: string): JsonValue {
  if (text.charCodeAt(0) === 0xfeff) throw new HeaderJsonError('the header starts with a byte order mark', 0);
  if (text[0] !== '{') {
    const what = text.length === 0 ? 'is empty' : `starts with ${JSON.stringify(text[0])}`;
    throw new HeaderJsonError(`the header ${what}; it must start with "{"`, 0);
  }
  let i = 0;
  const fail = (message: string): never => {
    throw new HeaderJsonError(message, i);
  };
  const skip = (): void => {
    while (i < text.length && WHITESPACE.has(text[i]!)) i++;
  };

  const string = (): string => {
    // text[i] is the opening quote.
    i++;
    let out = '';
    let runStart = i;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const code = text.charCodeAt(i);
      if (code === 0x22) {
        out += text.slice(runStart, i);
        i++;
        return out;
      }
      if (code < 0x20) fail(`control character U+${code.toString(16).padStart(4, '0')} in a string`);
      if (code !== 0x5c) {
        i++;
        continue;
      }
      out += text.slice(runStart, i);
      const escaped = text[i + 1];
      const simple: Record<string, string> = {
        '"': '"',
        '\\': '\\',
        '/': '/',
        b: '\b',
        f: '\f',
        n: '\n',
        r: '\r',
        t: '\t',
      };
      if (escaped !== undefined && escaped in simple) {
        out += simple[escaped];
        i += 2;
      } else if (escaped === 'u') {
        const unit = hex4(i + 2);
        i += 6;
        if (unit >= 0xdc00 && unit <= 0xdfff) fail('unpaired low surrogate in a string');
        if (unit >= 0xd800 && unit <= 0xdbff) {
          if (text[i] !== '\\' || text[i + 1] !== 'u') fail('unpaired high surrogate in a string');
          const low = hex4(i + 2);
          if (low < 0xdc00 || low > 0xdfff) fail('unpaired high surrogate in a string');
          i += 6;
          out += String.fromCharCode(unit, low);
        } else out += String.fromCharCode(unit);
      } else fail(`invalid escape "\\${escaped ?? ''}"`);
      runStart = i;
    }
  };

  const hex4 = (at: number): number => {
    const digits = text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) {
      i = at;
      fail('invalid \\u escape');
    }
    return Number.parseInt(digits, 16);
  };

  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

  const value = (depth: number): JsonValue => {
    skip();
    const c = text[i];
    if (c === '{' || c === '[') {
      if (depth >= MAX_HEADER_DEPTH) fail(`nesting deeper than ${MAX_HEADER_DEPTH} levels`);
      return c === '{' ? object(depth + 1) : array(depth + 1);
    }
    if (c === '"') return string();
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = i;
    const match = NUMBER.exec(text);
    if (!match) return fail(c === undefined ? 'unexpected end of the header' : 'unexpected character');
    i += match[0].length;
    return new JsonNumber(Number(match[0]), match[0]);
  };

  const object = (depth: number): { [key: string]: JsonValue } => {
    i++;
    const out: { [key: string]: JsonValue } = Object.create(null);
    skip();
    if (text[i] === '}') {
      i++;
      return out;
    }
    for (;;) {
      skip();
      if (text[i] !== '"') fail('expected a string key');
      const keyAt = i;
      const key = string();
      if (Object.hasOwn(out, key)) {
        i = keyAt;
        fail(`key ${preview(key)} appears twice in one object`);
      }
      skip();
      if (text[i] !== ':') fail('expected ":"');
      i++;
      out[key] = value(depth);
      skip();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return out;
      }
      fail('expected "," or "}"');
    }
  };

  const array = (depth: number): JsonValue[] => {
    i++;
    const out: JsonValue[] = [];
    skip();
    if (text[i] === ']') {
      i++;
      return out;
    }
    for (;;) {
      out.push(value(depth));
      skip();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') {
        i++;
        return out;
      }
      fail('expected "," or "]"');
    }
  };

  const result = value(0);
  skip();
  if (i !== text.length) fail('unexpected characters after the header object');
  return result;
}

/** Longest text of a value that error messages show. */
export const PREVIEW_LIMIT = 80;

/**
 * A short rendering of a parsed value for error messages: JSON-like, integers as written, and cut to
 * {@link PREVIEW_LIMIT} characters with the full length noted, so a hostile 18,000-character value
 * never ends up in a message. Never recurses deeper than the value itself (at most the depth limit).
 */
export function preview(value: unknown): string {
  const text = render(value, 0);
  return text.length <= PREVIEW_LIMIT ? text : `${text.slice(0, PREVIEW_LIMIT)}… (${text.length} characters)`;
}

function render(value: unknown, depth: number): string {
  if (value instanceof JsonNumber) return value.text;
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'nothing';
  if (value === null || typeof value !== 'object') return String(value);
  if (depth > MAX_HEADER_DEPTH) return '…';
  if (Array.isArray(value)) return `[${value.map((v) => render(v, depth + 1)).join(',')}]`;
  const parts = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${render(v, depth + 1)}`);
  return `{${parts.join(',')}}`;
}
