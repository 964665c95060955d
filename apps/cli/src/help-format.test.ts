import { describe, expect, it } from 'vitest';
import { wrapDescription } from './help-format.js';

describe('wrapDescription', () => {
  it('joins source lines into paragraphs and fills them once', () => {
    expect(wrapDescription('one two\nthree four five\n\nsix', 10)).toBe('one two\nthree four\nfive\n\nsix');
  });

  it('keeps headings and rows, continuing a long row under its second column', () => {
    expect(wrapDescription('Methods:\n  eva   alpha beta gamma delta\n  pissa short', 24)).toBe(
      'Methods:\n  eva   alpha beta gamma\n        delta\n  pissa short',
    );
  });
});
