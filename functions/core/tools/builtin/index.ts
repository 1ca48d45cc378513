// Core: the tools every tenant may be offered without registering anything.
import { ToolRegistry } from '../registry';
import { calculatorTool } from './calculator';
import { currentTimeTool } from './current-time';

/**
 * A registry of the built-in tools.
 *
 * @example
 * const tools = createBuiltinToolRegistry();
 * tools.toLlmTools(['calculator', 'current_time']);
 */
export const createBuiltinToolRegistry = (): ToolRegistry =>
  new ToolRegistry([calculatorTool, currentTimeTool]);
