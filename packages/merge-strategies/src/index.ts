import { registerBuiltinMergeStrategies } from './strategies/builtin.js';

export {
  type CombineAdapterFilesOptions,
  type CombineAdapterFilesResult,
  combineAdapterFiles,
} from './files/combine-adapter-files.js';
export {
  checkDensity,
  magnitudePrune,
  PRUNE_METHODS,
  type PruneMethod,
  prune,
  type RandomPruneOptions,
  randomPrune,
} from './primitives/prune.js';
export {
  disjointMerge,
  MAJORITY_SIGN_METHODS,
  type MajoritySignMethod,
  majoritySignMask,
} from './primitives/sign-election.js';
export { dareLinear, dareTies, magnitudePruneMerge, taskArithmetic, ties } from './primitives/task-merges.js';
export { BUILTIN_MERGE_STRATEGIES, registerBuiltinMergeStrategies } from './strategies/builtin.js';
export { CAT } from './strategies/cat.js';
export { factorSpace } from './strategies/factor-space.js';
export type { MergeStrategyOptions, SvdMethod } from './strategies/options.js';
export {
  DARE_LINEAR,
  DARE_TIES,
  LINEAR,
  MAGNITUDE_PRUNE,
  TASK_MERGES,
  type TaskMerge,
  TIES,
} from './strategies/task-merge.js';
export {
  clampFactors,
  type RankFactors,
  randomizedTruncatedSvd,
  truncatedSvd,
  truncatedSvdOfProduct,
} from './strategies/truncated-svd.js';
export { svdName, withSvd } from './strategies/with-svd.js';

registerBuiltinMergeStrategies();
