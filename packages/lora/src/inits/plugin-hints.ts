import type { InitLoraWeights } from '../config/lora-config.js';

/**
 * Where PEFT's other `init_lora_weights` values live in lorakit — used ONLY to word the error for a value
 * that no imported package registered. Nothing decides anything from this table: whether an init runs,
 * and whether it rewrites the base weight, comes from its registered {@link InitStrategy} alone. A new
 * plugin needs no entry here (its users get the generic "import the package that registers it").
 */
const INSTALL_HINTS: readonly { readonly prefix: string; readonly packageName: string }[] = [
  { prefix: 'pissa', packageName: '@lorakit/inits-svd' },
  { prefix: 'olora', packageName: '@lorakit/inits-svd' },
  { prefix: 'corda', packageName: '@lorakit/inits-svd' },
  { prefix: 'orthogonal', packageName: '@lorakit/inits-svd' },
  { prefix: 'eva', packageName: '@lorakit/eva' },
  { prefix: 'loftq', packageName: '@lorakit/loftq' },
];

/** The package that provides an init value lorakit knows of but that is not registered (for messages). */
export function initPackageHint(value: InitLoraWeights): string | undefined {
  if (typeof value !== 'string') return undefined;
  // Case-sensitive, like PEFT: "PiSSA" is not PiSSA.
  return INSTALL_HINTS.find((hint) => value.startsWith(hint.prefix))?.packageName;
}
