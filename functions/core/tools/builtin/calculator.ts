// Core: the built-in `calculator` tool, on our own expression parser (never eval).
import { z } from 'zod';
import { ToolExecutionError } from '../errors';
import { defineTool } from '../registry';
import {
  CONSTANT_NAMES,
  ExpressionError,
  evaluateExpression,
  FUNCTION_NAMES,
  MAX_EXPRESSION_LENGTH,
} from './expression';

export const CalculatorParametersSchema = z
  .object({
    expression: z
      .string()
      .min(1)
      .max(MAX_EXPRESSION_LENGTH)
      .describe(
        `An arithmetic expression: numbers (1.5, 2e3), + - * / % ^, parentheses, ` +
          `functions ${FUNCTION_NAMES.join(', ')}, constants ${CONSTANT_NAMES.join(', ')}. Example: "sqrt(2) * (3 + 4)^2"`,
      ),
  })
  .strict();

export interface CalculatorOutput {
  expression: string;
  result: number;
}

/**
 * Evaluates arithmetic exactly as written; a syntax error or a division by zero is a ToolExecutionError
 * whose message names the position, so the model can correct itself.
 *
 * @example
 * await calculatorTool.run({ expression: '(1 + 2) * 3' }, { now: Date.now }); // { expression, result: 9 }
 */
export const calculatorTool = defineTool({
  name: 'calculator',
  description: 'Evaluates an arithmetic expression and returns the exact numeric result.',
  parameters: CalculatorParametersSchema,
  run: ({ expression }): CalculatorOutput => {
    try {
      return { expression, result: evaluateExpression(expression) };
    } catch (error) {
      if (error instanceof ExpressionError) throw new ToolExecutionError(error.message, { cause: error });
      throw error;
    }
  },
});
