/**
 * JSON exactly as Python's `json.dumps(value, indent=2, sort_keys=True)` writes it — what PEFT uses for
 * `adapter_config.json`: keys sorted at every level, two-space indent, `": "` after keys, ASCII-only
 * (non-ASCII escaped as \uXXXX), floats in Python's `repr` (`0.0`, `1e-05`, `16.0`), no trailing
 * newline.
 *
 * JS numbers do not know whether they were floats. Values wrapped in {@link PyFloat} are written as
 * floats; plain numbers are written as ints when integral. {@link parsePythonJson} wraps float
 * literals (those with `.` or an exponent) in PyFloat so a round trip keeps them.
 */
export class PyFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
}

/** Python's float repr: shortest round-trip digits, scientific when exponent < -4 or >= 16. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return 'Infinity';
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, exponentText] = x.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exponent < -4 || exponent >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exponent).toString().padStart(2, '0');
    return `${sign}${m}e${exponent < 0 ? '-' : '+'}${e}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const intPart = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const frac = digits.slice(exponent + 1);
  return `${sign}${intPart}.${frac || '0'}`;
}

function escapeString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (code < 0x20 || (code >= 0x7f && code <= 0xffff)) {
      out +=
        code < 0x7f ? `\\u${code.toString(16).padStart(4, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
    } else if (code > 0xffff) {
      const high = Math.floor((code - 0x10000) / 0x400) + 0xd800;
      const low = ((code - 0x10000) % 0x400) + 0xdc00;
      out += `\\u${high.toString(16)}\\u${low.toString(16)}`;
    } else out += ch;
  }
  return `${out}"`;
}

/** Python sorts str keys by code point; JS default sort compares UTF-16 units (same for the BMP). */
function sortKeys(keys: string[]): string[] {
  return keys.sort((a, b) => {
    const ca = [...a].map((c) => c.codePointAt(0)!);
    const cb = [...b].map((c) => c.codePointAt(0)!);
    for (let i = 0; i < Math.min(ca.length, cb.length); i++) if (ca[i] !== cb[i]) return ca[i]! - cb[i]!;
    return ca.length - cb.length;
  });
}

export function dumpPythonJson(value: unknown, indent = 2): string {
  const write = (v: unknown, depth: number): string => {
    const pad = ' '.repeat(indent * (depth + 1));
    const closePad = ' '.repeat(indent * depth);
    if (v === null || v === undefined) return 'null';
    if (v instanceof PyFloat) return pythonFloatRepr(v.value);
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pythonFloatRepr(v);
    if (typeof v === 'string') return escapeString(v);
    if (v instanceof Set) return write(sortKeys([...v] as string[]), depth);
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      return `[\n${v.map((item) => pad + write(item, depth + 1)).join(',\n')}\n${closePad}]`;
    }
    if (typeof v === 'object') {
      const keys = sortKeys(Object.keys(v as object));
      if (keys.length === 0) return '{}';
      return `{\n${keys
        .map((k) => `${pad}${escapeString(k)}: ${write((v as Record<string, unknown>)[k], depth + 1)}`)
        .join(',\n')}\n${closePad}}`;
    }
    throw new TypeError(`cannot serialize ${typeof v} to JSON`);
  };
  return write(value, 0);
}

/** JSON.parse that keeps float-ness: literals with a fraction or exponent become {@link PyFloat}. */
export function parsePythonJson(text: string): unknown {
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at position ${i}`);
  };
  const skip = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const value = (): unknown => {
    skip();
    const c = text[i];
    if (c === '{') {
      i++;
      const out: Record<string, unknown> = {};
      skip();
      if (text[i] === '}') {
        i++;
        return out;
      }
      for (;;) {
        skip();
        if (text[i] !== '"') fail('expected a string key');
        const key = string();
        skip();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        out[key] = value();
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
    }
    if (c === '[') {
      i++;
      const out: unknown[] = [];
      skip();
      if (text[i] === ']') {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
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
    }
    if (c === '"') return string();
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['-Infinity', Number.NEGATIVE_INFINITY],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return typeof v === 'number' ? new PyFloat(v) : v;
      }
    }
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!match) return fail('unexpected character');
    i += match[0].length;
    const n = Number(match[0]);
    return match[2] || match[3] ? new PyFloat(n) : n;
  };
  const string = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const result = value();
  skip();
  if (i !== text.length) fail('unexpected trailing characters');
  return result;
}

/** Replaces PyFloat wrappers by plain numbers (for code that does not care about float-ness). */
export function unwrapFloats(value: unknown): unknown {
  if (value instanceof PyFloat) return value.value;
  if (Array.isArray(value)) return value.map(unwrapFloats);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapFloats(v)]));
  }
  return value;
}
