import { describe, expect, it } from 'vitest';
import {
  ExpressionError,
  evaluateExpression,
  MAX_EXPRESSION_LENGTH,
  MAX_NESTING_DEPTH,
} from '../../../functions/core/tools/builtin/expression';

const failure = (input: string): ExpressionError => {
  try {
    evaluateExpression(input);
  } catch (error) {
    if (error instanceof ExpressionError) return error;
    throw error;
  }
  throw new Error(`expected '${input}' to fail`);
};

describe('evaluateExpression', () => {
  it.each([
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['10 - 4 - 3', 3],
    ['2 ^ 3 ^ 2', 512],
    ['-2 ^ 2', -4],
    ['2 ^ -1', 0.5],
    ['--3', 3],
    ['-(4 - 6)', 2],
    ['7 % 3', 1],
    ['1.5e3 / .5', 3000],
    ['2E-3 * 1000', 2],
    ['0.1 + 0.2', 0.3],
    ['sqrt(16) + abs(-3)', 7],
    ['min(4, 2, 8) + max(1, 9)', 11],
    ['round(2.345, 2)', 2.35],
    ['round(-2.5)', -3],
    ['floor(2.7) + ceil(2.1)', 5],
    ['2 * pi', 2 * Math.PI],
    ['E', Math.E],
    ['3 × 4 ÷ 2', 6],
    ['2 ** 10', 1024],
    ['  42  ', 42],
  ])('%s = %d', (input, expected) => {
    expect(evaluateExpression(input)).toBeCloseTo(expected, 12);
  });

  it('reports division and modulo by zero as errors, never Infinity or NaN', () => {
    expect(failure('1 / (2 - 2)')).toMatchObject({ message: 'division by zero at position 2' });
    expect(failure('5 % 0').message).toBe('modulo by zero at position 2');
    expect(failure('0 ^ -1').message).toContain('division by zero');
  });

  it.each([
    ['2 +', "expected a number, a name or '(' but found end of input at position 3"],
    ['(1 + 2', "expected ')' to close the '(' at position 0, found end of input at position 6"],
    ['1 + 2)', "unexpected ')' without a matching ( at position 5"],
    ['2 $ 3', "unexpected character '$' at position 2"],
    ['foo(1)', 'unknown name'],
    ['sqrt 4', "expected '(' after sqrt at position 5"],
    ['sqrt(1, 2)', 'sqrt() takes 1 argument(s), got 2 at position 0'],
    ['sqrt(-1)', 'sqrt of a negative number at position 0'],
    ['(-8) ^ 0.5', 'not a real number'],
    ['1 2', 'unexpected number 2 at position 2'],
    ['', 'empty expression at position 0'],
    ['10 ^ 400', 'too large'],
  ])('rejects %j: %s', (input, message) => {
    expect(failure(input).message).toContain(message);
  });

  it('refuses JavaScript: names are only its own functions and constants', () => {
    for (const input of ['constructor', 'process.exit(1)', 'this', 'Math.PI', 'alert("x")']) {
      expect(() => evaluateExpression(input)).toThrow(ExpressionError);
    }
  });

  it.each([
    ['constructor(1)', 0],
    ['__proto__(1)', 0],
    ['1 + constructor(2)', 4],
    ['2 * __proto__', 4],
    ['constructor', 0],
    ['(__PROTO__) + 1', 1],
  ])('treats the inherited Object member in %j as an unknown name at position %i', (input, position) => {
    const error = failure(input);

    expect(error.message).toContain('unknown name');
    expect(error.position).toBe(position);
  });

  it('bounds the input length and the nesting depth', () => {
    expect(failure('1+'.repeat(MAX_EXPRESSION_LENGTH)).message).toContain('longer than');
    const deep = `${'('.repeat(MAX_NESTING_DEPTH + 1)}1${')'.repeat(MAX_NESTING_DEPTH + 1)}`;
    expect(failure(deep).message).toContain('nesting deeper than');
    const unaries = `${'-'.repeat(MAX_NESTING_DEPTH + 1)}1`;
    expect(failure(unaries).message).toContain('nesting deeper than');
    const fine = `${'('.repeat(MAX_NESTING_DEPTH - 1)}1${')'.repeat(MAX_NESTING_DEPTH - 1)}`;
    expect(evaluateExpression(fine)).toBe(1);
  });
});
