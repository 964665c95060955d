import { LoraConfigError } from '../errors.js';

const cache = new Map<string, RegExp>();

/**
 * A JS RegExp for a Python `re` pattern. `anchor` = 'full' is `re.fullmatch`, 'start' is `re.match`.
 * Translates the Python-only syntax PEFT users write: `(?P<name>…)`, `(?P=name)`, and leading inline
 * flags such as `(?i)`.
 */
export function pythonRegex(pattern: string, anchor: 'full' | 'start'): RegExp {
  const key = `${anchor}\u0000${pattern}`;
  let re = cache.get(key);
  if (re) return re;
  let body = pattern
    .replace(/\(\?P<([A-Za-z_]\w*)>/g, '(?<$1>')
    .replace(/\(\?P=([A-Za-z_]\w*)\)/g, '\\k<$1>');
  let flags = '';
  const inline = /^\(\?([aiLmsux]+)\)/.exec(body);
  if (inline) {
    body = body.slice(inline[0].length);
    for (const f of inline[1]!) if ('ims'.includes(f) && !flags.includes(f)) flags += f;
  }
  try {
    re = new RegExp(anchor === 'full' ? `^(?:${body})$` : `^(?:${body})`, flags);
  } catch (cause) {
    throw new LoraConfigError(
      `[LoraConfig] ${JSON.stringify(pattern)} is not a valid regular expression: ${(cause as Error).message}`,
    );
  }
  cache.set(key, re);
  return re;
}
