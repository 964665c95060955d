/**
 * Off-diagonal entries below this are treated as zero whatever their neighbours. The callers scale
 * their input so that its largest entry lies in [2⁻⁴⁰⁰, 2⁴⁰⁰] (or is zero), so ε·‖T‖ ≥ 2⁻⁴⁵² and
 * dropping such an entry is far inside the normwise error budget. Without the floor, a tiny entry next
 * to zero diagonal entries never passes the relative test, and shifts built from its underflowing
 * square make no progress; with it, every entry left has a square that is a normal number.
 */
const FLOOR = 2 ** -500;

/**
 * Whether the off-diagonal entry `off` between diagonal entries `left` and `right` can be set to zero:
 * |off| ≤ ε·(|left| + |right|) (the relative test of Golub & Van Loan §8.3.5 and §8.6.2), or below FLOOR.
 */
export function isNegligible(off: number, left: number, right: number): boolean {
  const magnitude = Math.abs(off);
  return magnitude <= Number.EPSILON * (Math.abs(left) + Math.abs(right)) || magnitude < FLOOR;
}
