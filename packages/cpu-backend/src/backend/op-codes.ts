/**
 * Op codes of the native kernels, read from the addon's own list of names (native/op_names.cc) so that
 * the TypeScript and C++ sides cannot drift apart: an op the addon does not know has no code and runs on
 * the JavaScript kernel.
 */
import type { NativeBinding } from '../native.js';

export interface OpCodes {
  readonly unary: ReadonlyMap<string, number>;
  readonly binary: ReadonlyMap<string, number>;
  readonly reduce: ReadonlyMap<string, number>;
}

export function readOpCodes(native: NativeBinding): OpCodes {
  const names = native.opNames();
  const index = (list: readonly string[]) => new Map(list.map((name, code) => [name, code]));
  return { unary: index(names.unary), binary: index(names.binary), reduce: index(names.reduce) };
}
