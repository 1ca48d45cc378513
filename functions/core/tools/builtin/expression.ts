// Core: the calculator's arithmetic, a recursive-descent parser and evaluator. No eval, no Function:
// input is bounded in length and nesting depth, and every error names what went wrong and where.
//
// Grammar (lowest precedence first; `^` is right-associative and binds tighter than unary minus,
// so -2^2 = -4 and 2^-1 = 0.5, as in mathematics):
//   expression := term (('+' | '-') term)*
//   term       := unary (('*' | '/' | '%') unary)*
//   unary      := ('-' | '+') unary | power
//   power      := primary ('^' unary)?
//   primary    := number | constant | function '(' expression (',' expression)* ')' | '(' expression ')'

export const MAX_EXPRESSION_LENGTH = 500;
export const MAX_NESTING_DEPTH = 32;

/** Why an expression could not be evaluated; `position` is the 0-based offset in the input. */
export class ExpressionError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(`${message} at position ${position}`);
    this.name = 'ExpressionError';
    this.position = position;
  }
}

type Token =
  | { kind: 'number'; value: number; position: number; text: string }
  | { kind: 'name'; value: string; position: number }
  | { kind: 'op'; value: string; position: number }
  | { kind: 'end'; position: number };

// Maps, not plain objects, for lookups: a name from the input must never resolve to an Object.prototype
// member (`constructor`, `__proto__`), which would reach the evaluator as a function or an object.
const CONSTANTS: ReadonlyMap<string, number> = new Map(Object.entries({ pi: Math.PI, e: Math.E }));

interface FunctionSpec {
  minArgs: number;
  maxArgs: number;
  apply(args: number[], position: number): number;
}

const FUNCTION_SPECS: Record<string, FunctionSpec> = {
  sqrt: {
    minArgs: 1,
    maxArgs: 1,
    apply: ([x = 0], position) => {
      if (x < 0) throw new ExpressionError('sqrt of a negative number', position);
      return Math.sqrt(x);
    },
  },
  abs: { minArgs: 1, maxArgs: 1, apply: ([x = 0]) => Math.abs(x) },
  floor: { minArgs: 1, maxArgs: 1, apply: ([x = 0]) => Math.floor(x) },
  ceil: { minArgs: 1, maxArgs: 1, apply: ([x = 0]) => Math.ceil(x) },
  min: { minArgs: 1, maxArgs: 100, apply: (args) => Math.min(...args) },
  max: { minArgs: 1, maxArgs: 100, apply: (args) => Math.max(...args) },
  round: {
    minArgs: 1,
    maxArgs: 2,
    apply: ([x = 0, digits = 0], position) => {
      if (!Number.isInteger(digits) || digits < 0 || digits > 12) {
        throw new ExpressionError('round() takes 0 to 12 decimal places', position);
      }
      const factor = 10 ** digits;
      // Half away from zero, as people round; Math.round sends -2.5 to -2.
      return (Math.sign(x) * Math.round(Math.abs(x) * factor)) / factor;
    },
  },
};

const FUNCTIONS: ReadonlyMap<string, FunctionSpec> = new Map(Object.entries(FUNCTION_SPECS));

export const FUNCTION_NAMES = [...FUNCTIONS.keys()];
export const CONSTANT_NAMES = [...CONSTANTS.keys()];

const NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const OPERATORS = new Set(['+', '-', '*', '/', '%', '^', '(', ')', ',']);

const tokenize = (input: string): Token[] => {
  const tokens: Token[] = [];
  let position = 0;
  while (position < input.length) {
    const char = input[position] as string;
    if (/\s/.test(char)) {
      position += 1;
      continue;
    }
    const rest = input.slice(position);
    const number = NUMBER.exec(rest);
    if (number) {
      tokens.push({ kind: 'number', value: Number(number[0]), position, text: number[0] });
      position += number[0].length;
      continue;
    }
    const name = NAME.exec(rest);
    if (name) {
      tokens.push({ kind: 'name', value: name[0].toLowerCase(), position });
      position += name[0].length;
      continue;
    }
    // `**` is a common spelling of power; `×` and `÷` come from pasted text.
    if (rest.startsWith('**')) {
      tokens.push({ kind: 'op', value: '^', position });
      position += 2;
      continue;
    }
    const operator = char === '×' ? '*' : char === '÷' ? '/' : char;
    if (OPERATORS.has(operator)) {
      tokens.push({ kind: 'op', value: operator, position });
      position += 1;
      continue;
    }
    throw new ExpressionError(`unexpected character '${char}'`, position);
  }
  tokens.push({ kind: 'end', position: input.length });
  return tokens;
};

const describe = (token: Token): string =>
  token.kind === 'end'
    ? 'end of input'
    : token.kind === 'number'
      ? `number ${token.text}`
      : `'${token.value}'`;

class Parser {
  private index = 0;
  private depth = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): number {
    const value = this.expression();
    const next = this.peek();
    if (next.kind !== 'end') {
      throw new ExpressionError(
        `unexpected ${describe(next)}${next.kind === 'op' && next.value === ')' ? ' without a matching (' : ''}`,
        next.position,
      );
    }
    return value;
  }

  private peek(): Token {
    return this.tokens[this.index] as Token;
  }

  private take(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.index += 1;
    return token;
  }

  private isOp(...values: string[]): boolean {
    const token = this.peek();
    return token.kind === 'op' && values.includes(token.value);
  }

  private nested<T>(position: number, parse: () => T): T {
    this.depth += 1;
    if (this.depth > MAX_NESTING_DEPTH) {
      throw new ExpressionError(`nesting deeper than ${MAX_NESTING_DEPTH} levels`, position);
    }
    try {
      return parse();
    } finally {
      this.depth -= 1;
    }
  }

  private expression(): number {
    let value = this.term();
    while (this.isOp('+', '-')) {
      const operator = this.take() as Extract<Token, { kind: 'op' }>;
      const right = this.term();
      value = operator.value === '+' ? value + right : value - right;
    }
    return value;
  }

  private term(): number {
    let value = this.unary();
    while (this.isOp('*', '/', '%')) {
      const operator = this.take() as Extract<Token, { kind: 'op' }>;
      const right = this.unary();
      if (operator.value === '*') value *= right;
      else if (right === 0) {
        throw new ExpressionError(
          operator.value === '/' ? 'division by zero' : 'modulo by zero',
          operator.position,
        );
      } else value = operator.value === '/' ? value / right : value % right;
    }
    return value;
  }

  private unary(): number {
    if (this.isOp('-', '+')) {
      const operator = this.take() as Extract<Token, { kind: 'op' }>;
      const operand = this.nested(operator.position, () => this.unary());
      return operator.value === '-' ? -operand : operand;
    }
    return this.power();
  }

  private power(): number {
    const base = this.primary();
    if (!this.isOp('^')) return base;
    const operator = this.take();
    const exponent = this.nested(operator.position, () => this.unary());
    if (base === 0 && exponent < 0) throw new ExpressionError('division by zero', operator.position);
    const value = base ** exponent;
    if (Number.isNaN(value)) {
      throw new ExpressionError(
        'a negative number to a fractional power is not a real number',
        operator.position,
      );
    }
    return value;
  }

  private primary(): number {
    const token = this.take();
    if (token.kind === 'number') return token.value;
    if (token.kind === 'op' && token.value === '(') {
      const value = this.nested(token.position, () => this.expression());
      this.expectClose(token.position);
      return value;
    }
    if (token.kind === 'name') {
      const spec = FUNCTIONS.get(token.value);
      if (spec) return this.call(token.value, spec, token.position);
      const constant = CONSTANTS.get(token.value);
      if (constant !== undefined) return constant;
      throw new ExpressionError(
        `unknown name '${token.value}' (functions: ${FUNCTION_NAMES.join(', ')}; constants: ${CONSTANT_NAMES.join(', ')})`,
        token.position,
      );
    }
    throw new ExpressionError(
      `expected a number, a name or '(' but found ${describe(token)}`,
      token.position,
    );
  }

  private call(name: string, spec: FunctionSpec, position: number): number {
    if (!this.isOp('(')) throw new ExpressionError(`expected '(' after ${name}`, this.peek().position);
    const open = this.take();
    const args = this.nested(open.position, () => {
      const values = [this.expression()];
      while (this.isOp(',')) {
        this.take();
        values.push(this.expression());
      }
      return values;
    });
    this.expectClose(open.position);
    if (args.length < spec.minArgs || args.length > spec.maxArgs) {
      const expected =
        spec.minArgs === spec.maxArgs ? `${spec.minArgs}` : `${spec.minArgs} to ${spec.maxArgs}`;
      throw new ExpressionError(`${name}() takes ${expected} argument(s), got ${args.length}`, position);
    }
    return spec.apply(args, position);
  }

  private expectClose(openedAt: number): void {
    const token = this.peek();
    if (token.kind === 'op' && token.value === ')') {
      this.take();
      return;
    }
    throw new ExpressionError(
      `expected ')' to close the '(' at position ${openedAt}, found ${describe(token)}`,
      token.position,
    );
  }
}

/**
 * Evaluates an arithmetic expression. Throws ExpressionError (with the offending position) for syntax
 * errors, division by zero, and results that are not finite numbers.
 *
 * @example
 * evaluateExpression('2 * (3 + 4) ^ 2'); // 98
 * evaluateExpression('1 / 0'); // throws ExpressionError: division by zero at position 2
 */
export const evaluateExpression = (input: string): number => {
  if (input.length > MAX_EXPRESSION_LENGTH) {
    throw new ExpressionError(
      `expression longer than ${MAX_EXPRESSION_LENGTH} characters`,
      MAX_EXPRESSION_LENGTH,
    );
  }
  const tokens = tokenize(input);
  if (tokens.length === 1) throw new ExpressionError('empty expression', 0);
  const value = new Parser(tokens).parse();
  if (!Number.isFinite(value)) throw new ExpressionError('the result is too large to represent', 0);
  // Binary floating point prints 0.1 + 0.2 as 0.30000000000000004; 15 significant digits are exact in a double.
  return Number(value.toPrecision(15)) + 0;
};
