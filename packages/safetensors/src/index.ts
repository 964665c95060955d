export { decodeTensorBytes, type ReadOptions, type TensorArray, type TensorData } from './decode.js';
export { DTYPE_SIZE, DTYPES, type Dtype, isDtype, shapeSize } from './dtypes.js';
export {
  LorakitError,
  listNames,
  SafetensorsFormatError,
  SafetensorsRangeError,
  SafetensorsTensorNotFoundError,
  SafetensorsWriteError,
} from './errors.js';
export {
  decodeBFloat16,
  decodeFloat8E4M3,
  decodeFloat8E5M2,
  decodeFloat16,
  encodeBFloat16,
  encodeFloat8E4M3,
  encodeFloat8E5M2,
  encodeFloat16,
} from './float-codecs.js';
export { MAX_HEADER_LENGTH, type SafetensorsHeader, type TensorInfo } from './header.js';
export { MAX_HEADER_DEPTH } from './header-json.js';
export { openTensorSource } from './open.js';
export { SafetensorsFile } from './reader.js';
export {
  interruptedBackup,
  makeFolders,
  type ReplaceFolderOptions,
  replaceFolder,
} from './replace-folder.js';
export { SAVE_ID_KEY, ShardedSafetensors, type ShardIndex } from './sharded.js';
export { type ShardedWriteOptions, writeShardedSafetensors } from './sharded-writer.js';
export { removeStaleTemporaries, type TempKind, temporaryName } from './temp-names.js';
export type { TensorSource } from './tensor-source.js';
export {
  serializeSafetensors,
  type TensorEntry,
  type TensorValues,
  type WriteOptions,
  writeAtomically,
  writeSafetensors,
} from './writer.js';
