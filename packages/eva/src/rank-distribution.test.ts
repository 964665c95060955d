import { describe, expect, it } from 'vitest';
import { distributeRanks, roundHalfEven } from './rank-distribution.js';

describe('distributeRanks', () => {
  it('gives the budget to the largest explained-variance ratios across layers, 0 to layers with none', () => {
    const ranks = distributeRanks(
      [
        ['a', 'a'],
        ['b', 'b'],
        ['c', 'c'],
      ],
      new Map([
        ['a', [0.5, 0.3, 0.2, 0.1]],
        ['b', [0.4, 0.05, 0.01, 0]],
        ['c', [0.04, 0.03, 0.02, 0.01]],
      ]),
      new Map([
        ['a', 4],
        ['b', 4],
        ['c', 4],
      ]),
      6,
    );
    expect([...ranks]).toEqual([
      ['a', 4],
      ['b', 2],
      ['c', 0],
    ]);
  });

  it('caps each layer at its max components and swaps so a representative has its group’s largest rank', () => {
    // k shares q's components and is counted with q's ratios (q's cap, 2): the pool is q 0.6, k 0.6,
    // o 0.5 (o's cap is 1), q 0.1, k 0.1, so a budget of 3 gives one each.
    const layers: [string, string][] = [
      ['q', 'q'],
      ['o', 'o'],
      ['k', 'q'],
    ];
    const ratios = new Map([
      ['q', [0.6, 0.1]],
      ['o', [0.5, 0.45]],
    ]);
    const max = new Map([
      ['q', 2],
      ['o', 1],
      ['k', 2],
    ]);
    expect([...distributeRanks(layers, ratios, max, 3)]).toEqual([
      ['q', 1],
      ['o', 1],
      ['k', 1],
    ]);
    // Give k more than q by ordering k first: the swap hands the larger rank to the representative.
    const swapped = distributeRanks(
      [
        ['k', 'q'],
        ['q', 'q'],
        ['o', 'o'],
      ],
      new Map([
        ['q', [0.6, 0.55]],
        ['o', [0.5]],
      ]),
      new Map([
        ['q', 2],
        ['o', 1],
      ]),
      3,
    );
    expect([...swapped]).toEqual([
      ['k', 1],
      ['q', 2],
      ['o', 0],
    ]);
  });
});

describe('roundHalfEven', () => {
  it('rounds like Python’s round (ties to even), which sets round(r·rho)', () => {
    expect([0.5, 1.5, 2.5, 3.5, 4.4, 4.6, 7.5, 8].map(roundHalfEven)).toEqual([0, 2, 2, 4, 4, 5, 8, 8]);
  });
});
