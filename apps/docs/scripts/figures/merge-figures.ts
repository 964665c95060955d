import { dareLinear, dareTies, magnitudePruneMerge, taskArithmetic, ties } from '@lorakit/merge-strategies';
import { Generator, noGrad, type Tensor, tensor } from '@lorakit/tensor';
import { box, COLORS, cellRows, svgDocument, text } from './svg.js';

/** Two small "task vectors" (one row of two adapters' ΔW) that disagree in sign in a few places. */
const T1 = [2.0, -1.5, 0.2, 1.0, -0.3, 0.8, -2.2, 0.1, 1.6, -0.4, 0.5, -1.0];
const T2 = [1.2, 1.8, -0.3, 0.9, 2.0, -0.7, -1.6, 0.2, -0.5, 0.3, 1.4, -0.8];
const DENSITY = 0.5;

const list = (t: Tensor) => Array.from(t.toArray() as Float32Array, (v) => Math.round(v * 100) / 100);

/** The combination rules of add_weighted_adapter on two vectors, computed with @lorakit/merge-strategies. */
export function mergeFigures(): { file: string; svg: string }[] {
  const inputs = [tensor(T1), tensor(T2)];
  const weights = [1, 1];
  const rows = noGrad(() => [
    { label: 'adapter 1', values: T1 },
    { label: 'adapter 2', values: T2 },
    {
      label: 'linear',
      values: list(taskArithmetic(inputs, weights)),
      note: 'w₁·t₁ + w₂·t₂',
      separator: true,
    },
    {
      label: 'magnitude_prune',
      values: list(magnitudePruneMerge(inputs, weights, DENSITY)),
      note: 'keep each one’s largest half, add',
    },
    { label: 'ties', values: list(ties(inputs, weights, DENSITY)), note: 'trim, elect signs, add agreeing' },
    {
      label: 'dare_linear',
      values: list(dareLinear(inputs, weights, DENSITY, { generator: new Generator(3) })),
      note: 'drop half at random, ×2, add',
    },
    {
      label: 'dare_ties',
      values: list(dareTies(inputs, weights, DENSITY, 'total', { generator: new Generator(3) })),
      note: 'DARE’s drop + TIES’ sign election',
    },
  ]);
  const picture = cellRows({
    title: 'What each combination type does to two adapters (density 0.5, weights 1, 1)',
    subtitle: 'computed by @lorakit/merge-strategies’ primitives; orange positive, blue negative, white zero',
    rows,
  });
  return [
    { file: 'merge-types.svg', svg: picture },
    { file: 'merge-cat-svd.svg', svg: catSvdDiagram() },
  ];
}

/** cat stacks the factors (rank r₁ + r₂, exact); svd refactors Σ wᵢΔWᵢ at a chosen rank. */
function catSvdDiagram(): string {
  const body = [
    text(16, 26, 'cat and svd: exact or best low-rank sums of the updates ΔWᵢ = sᵢ·Bᵢ·Aᵢ', {
      size: 15,
      weight: '600',
    }),
    text(
      16,
      46,
      'cat keeps every direction (rank r₁ + r₂); svd keeps the best rank-k approximation of w₁ΔW₁ + w₂ΔW₂',
      { size: 11.5, color: COLORS.muted },
    ),
    text(20, 80, 'cat', { size: 13, weight: '600' }),
    ...box(20, 90, 36, 100, COLORS.blue, 'B₁'),
    ...box(58, 90, 36, 100, COLORS.green, 'B₂'),
    text(112, 146, '·', { size: 22, anchor: 'middle' }),
    ...box(130, 90, 150, 34, COLORS.orange, 'w₁s₁·A₁'),
    ...box(130, 126, 150, 34, COLORS.red, 'w₂s₂·A₂'),
    text(300, 146, '= w₁ΔW₁ + w₂ΔW₂ exactly', { size: 12 }),
    text(470, 80, 'svd', { size: 13, weight: '600' }),
    ...box(470, 90, 100, 100, COLORS.gray, 'Σ wᵢΔWᵢ', 'out × in'),
    text(590, 146, '≈', { size: 22, anchor: 'middle' }),
    ...box(610, 90, 36, 100, COLORS.blue, 'U·S'),
    ...box(650, 90, 100, 34, COLORS.orange, 'Vᴴ'),
    text(610, 210, 'top k = svd_rank components', { size: 11.5, color: COLORS.muted }),
  ];
  return svgDocument(780, 226, 'cat and svd combination types', body);
}
