import { ConfigError } from '../errors.js';

/** A parsed `config.json` object. */
export type RawConfig = Readonly<Record<string, unknown>>;

/**
 * Typed reads of `config.json` fields with transformers' defaults. A field that is absent or `null` takes
 * the default; a present field of the wrong kind is an error naming the model type, the field, what was
 * expected and what was found.
 */
export class ConfigFields {
  constructor(
    readonly raw: RawConfig,
    readonly modelType: string,
  ) {}

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  private fail(key: string, expected: string): never {
    throw new ConfigError(
      `[config] ${this.modelType}: "${key}" must be ${expected}, received ${JSON.stringify(this.raw[key])}`,
    );
  }

  /** A positive integer (or non-negative with `min: 0`). */
  int(key: string, fallback: number, options: { min?: number } = {}): number {
    if (!this.has(key)) return fallback;
    const value = this.raw[key];
    const min = options.min ?? 1;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      this.fail(key, min === 1 ? 'a positive integer' : `an integer ≥ ${min}`);
    }
    return value;
  }

  /** An explicit `null` in the file gives null; an absent field gives `fallback`. */
  optionalInt(key: string, fallback: number | null = null, options: { min?: number } = {}): number | null {
    if (this.raw[key] === null) return null;
    return this.has(key) ? this.int(key, 0, options) : fallback;
  }

  number(key: string, fallback: number, options: { min?: number; max?: number } = {}): number {
    if (!this.has(key)) return fallback;
    const value = this.raw[key];
    const min = options.min ?? Number.NEGATIVE_INFINITY;
    const max = options.max ?? Number.POSITIVE_INFINITY;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      const range =
        Number.isFinite(min) && Number.isFinite(max)
          ? ` in [${min}, ${max}]`
          : Number.isFinite(min)
            ? ` ≥ ${min}`
            : '';
      this.fail(key, `a finite number${range}`);
    }
    return value;
  }

  optionalNumber(key: string, options: { min?: number; max?: number } = {}): number | null {
    return this.has(key) ? this.number(key, 0, options) : null;
  }

  bool(key: string, fallback: boolean): boolean {
    if (!this.has(key)) return fallback;
    const value = this.raw[key];
    if (typeof value !== 'boolean') this.fail(key, 'true or false');
    return value;
  }

  string(key: string, fallback: string): string {
    if (!this.has(key)) return fallback;
    const value = this.raw[key];
    if (typeof value !== 'string') this.fail(key, 'a string');
    return value;
  }

  /** One of `choices`; the error lists them. */
  choice<T extends string>(key: string, fallback: T, choices: readonly T[]): T {
    const value = this.string(key, fallback);
    if (!(choices as readonly string[]).includes(value)) {
      throw new ConfigError(
        `[config] ${this.modelType}: "${key}" ${JSON.stringify(value)} is not supported; supported: ${choices.join(', ')}`,
      );
    }
    return value as T;
  }

  /** `eos_token_id`-style fields: an id, a list of ids, or null. Returned as a list. */
  tokenIds(key: string, fallback: readonly number[]): number[] {
    if (this.raw[key] === null) return [];
    if (!this.has(key)) return [...fallback];
    const value = this.raw[key];
    const list = Array.isArray(value) ? value : [value];
    if (!list.every((id) => typeof id === 'number' && Number.isInteger(id) && id >= 0)) {
      this.fail(key, 'a token id, a list of token ids, or null');
    }
    return list as number[];
  }

  optionalTokenId(key: string, fallback: number | null): number | null {
    if (this.raw[key] === null) return null;
    if (!this.has(key)) return fallback;
    return this.int(key, 0, { min: 0 });
  }

  stringList(key: string): string[] | null {
    if (!this.has(key)) return null;
    const value = this.raw[key];
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
      this.fail(key, 'a list of strings');
    return value as string[];
  }

  object(key: string): Record<string, unknown> | null {
    if (!this.has(key)) return null;
    const value = this.raw[key];
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(key, 'an object');
    return value as Record<string, unknown>;
  }

  /** Fails with a message about an invariant between fields. */
  invalid(message: string): never {
    throw new ConfigError(`[config] ${this.modelType}: ${message}`);
  }
}
