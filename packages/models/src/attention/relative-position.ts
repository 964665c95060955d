import { type Tensor, tensor } from '@lorakit/tensor';

export interface RelativePositionOptions {
  readonly queryLength: number;
  readonly keyLength: number;
  /** Positions already cached: queries sit at past, past + 1, …. */
  readonly pastLength: number;
  /** Encoders look both ways (half the buckets for keys after the query); decoders only back. */
  readonly bidirectional: boolean;
  readonly numBuckets: number;
  readonly maxDistance: number;
  readonly backend: string;
}

/**
 * T5's bucket of one relative position (key − query; Mesh TensorFlow's `_relative_position_bucket`):
 * distances below half the buckets get one bucket each, larger ones share logarithmically wider
 * buckets up to `maxDistance`. The logarithm is evaluated in float32 steps as PyTorch does, so that
 * distances on a bucket boundary fall on the same side.
 */
export function relativePositionBucket(
  relative: number,
  bidirectional: boolean,
  numBuckets: number,
  maxDistance: number,
): number {
  const f = Math.fround;
  let buckets = numBuckets;
  let offset = 0;
  let distance: number;
  if (bidirectional) {
    buckets = Math.floor(buckets / 2);
    if (relative > 0) offset = buckets;
    distance = Math.abs(relative);
  } else {
    distance = -Math.min(relative, 0);
  }
  const maxExact = Math.floor(buckets / 2);
  if (distance < maxExact) return offset + distance;
  const ratio = f(Math.log(f(distance / maxExact)));
  const scaled = f(f(ratio / f(Math.log(maxDistance / maxExact))) * (buckets - maxExact));
  return offset + Math.min(maxExact + Math.trunc(scaled), buckets - 1);
}

/** Buckets of every (query, key) pair, [queries, keys] int64 (built on the host: it depends on lengths only). */
export function relativePositionBuckets(options: RelativePositionOptions): Tensor {
  const { queryLength, keyLength, pastLength, bidirectional, numBuckets, maxDistance } = options;
  const out = new BigInt64Array(queryLength * keyLength);
  for (let q = 0; q < queryLength; q++) {
    for (let k = 0; k < keyLength; k++) {
      out[q * keyLength + k] = BigInt(
        relativePositionBucket(k - (q + pastLength), bidirectional, numBuckets, maxDistance),
      );
    }
  }
  return tensor(out, { shape: [queryLength, keyLength], dtype: 'int64', backend: options.backend });
}
