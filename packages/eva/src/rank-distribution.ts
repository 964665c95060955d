/**
 * EVA's rank allocation (Paischer et al. 2024, §3.2): pool the explained-variance ratios of every layer's
 * candidate components (at most `maxComponents` each; layers that share an input share their
 * representative's values), keep the `budget` largest, and give each layer as many components as it
 * has among them. Ratios are fractions of each layer input's total variance, so they compare across
 * layers. A layer whose representative got fewer components than itself swaps counts with it: the
 * representative's components serve the whole group, so it must have the most.
 *
 * @param layers every target layer and its representative (itself when it has its own PCA), in
 *   PEFT's order (representatives first, then the layers mapped onto them)
 * @param ratios explained-variance ratios of each representative's components, descending
 * @returns the rank of every layer, in the order of `layers` (0 for a layer that got none)
 */
export function distributeRanks(
  layers: readonly (readonly [layer: string, representative: string])[],
  ratios: ReadonlyMap<string, readonly number[]>,
  maxComponents: ReadonlyMap<string, number>,
  budget: number,
): Map<string, number> {
  const pool: { layer: string; value: number }[] = [];
  for (const [layer, representative] of layers) {
    const values = ratios.get(representative) ?? [];
    for (const value of values.slice(0, maxComponents.get(representative)!)) pool.push({ layer, value });
  }
  // Stable, so equal ratios keep pool order (PyTorch's argsort leaves ties unspecified).
  pool.sort((a, b) => b.value - a.value);
  const counts = new Map<string, number>(layers.map(([layer]) => [layer, 0]));
  for (const { layer } of pool.slice(0, budget)) counts.set(layer, counts.get(layer)! + 1);
  for (const [layer, representative] of layers) {
    if (layer === representative) continue;
    const rank = counts.get(layer)!;
    const representativeRank = counts.get(representative)!;
    if (representativeRank >= rank) continue;
    counts.set(representative, rank);
    counts.set(layer, representativeRank);
  }
  return counts;
}

/** Python's `round` (half to even): `round(r · rho)` decides each layer's maximum rank. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
