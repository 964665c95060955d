import type { InitMethod, InitMethodInput, InitMethodValues } from '@lorakit/lora';
import { type Command, Option } from 'commander';
import { integerOption } from '../options.js';

/** Where each registered init method's inputs went on the command: input name → commander attribute. */
export type MethodOptionMap = ReadonlyMap<InitMethod, ReadonlyMap<string, string>>;

/** `loftq-bits` → `loftqBits`, as commander names option values. */
function attributeOf(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function optionFor(flag: string, input: InitMethodInput, methods: string): Option {
  const description = `${input.description} (--method ${methods})`;
  if (input.type === 'integer') {
    const option = new Option(`--${flag} <n>`, description).argParser(integerOption(input.min ?? 0));
    return input.default === undefined ? option : option.default(input.default);
  }
  const option = new Option(`--${flag} <value>`, description);
  if (input.choices) option.choices([...input.choices]);
  return input.default === undefined ? option : option.default(input.default);
}

function sameInput(a: InitMethodInput, b: InitMethodInput): boolean {
  return (
    a.type === b.type &&
    a.min === b.min &&
    a.default === b.default &&
    JSON.stringify(a.choices ?? null) === JSON.stringify(b.choices ?? null)
  );
}

/**
 * Adds every registered init method's inputs to `command` as options: `--<input>`, shared by methods
 * that declare the same input alike; an input whose name the command already uses for something else
 * becomes `--<method>-<input>`, so no plugin can shadow a built-in option.
 */
export function addMethodOptions(command: Command, methods: readonly InitMethod[]): MethodOptionMap {
  const taken = new Set(command.options.map((o) => o.long));
  const owners = new Map<string, { input: InitMethodInput; methods: string[] }>();
  const placement = new Map<InitMethod, Map<string, string>>();
  for (const method of methods) {
    const flags = new Map<string, string>();
    for (const input of method.inputs ?? []) {
      const shared = owners.get(input.name);
      const flag =
        (shared && sameInput(shared.input, input)) || (!shared && !taken.has(`--${input.name}`))
          ? input.name
          : `${method.name}-${input.name}`;
      const owner = owners.get(flag) ?? { input, methods: [] };
      owner.methods.push(method.name);
      owners.set(flag, owner);
      flags.set(input.name, flag);
    }
    placement.set(method, flags);
  }
  for (const [flag, { input, methods: names }] of owners) {
    command.addOption(optionFor(flag, input, names.join(', ')));
  }
  return new Map(
    [...placement].map(([method, flags]) => [
      method,
      new Map([...flags].map(([input, flag]) => [input, attributeOf(flag)])),
    ]),
  );
}

/** The values of one method's inputs, by input name, from the parsed flags. */
export function methodValues(
  method: InitMethod,
  map: MethodOptionMap,
  flags: Readonly<Record<string, unknown>>,
): InitMethodValues {
  const values: Record<string, number | string | undefined> = {};
  for (const [input, attribute] of map.get(method) ?? []) {
    const value = flags[attribute];
    values[input] = typeof value === 'number' || typeof value === 'string' ? value : undefined;
  }
  return values;
}
