// Core: the tools module's errors. A tool's own failure (1/0, an unknown time zone) is the caller's
// input problem, so it is a 4xx that the agent loop can hand back to the model as the tool's output.
import { InvalidRequestError, NotFoundError, type TenanticErrorOptions } from '../errors';

/** No tool of that name is registered. */
export class UnknownToolError extends NotFoundError {
  readonly toolName: string;
  constructor(toolName: string, options?: TenanticErrorOptions) {
    super('tool_not_found', `no tool named '${toolName}'`, { param: 'name', ...options });
    this.toolName = toolName;
  }
}

/** The arguments are not JSON, or do not match the tool's schema; every issue is named. */
export class ToolArgumentsError extends InvalidRequestError {
  constructor(message: string, options?: TenanticErrorOptions) {
    super('invalid_tool_arguments', message, { param: 'arguments', ...options });
  }
}

/** The tool ran and refused: the message is meant for the model (and the caller) to read and act on. */
export class ToolExecutionError extends InvalidRequestError {
  constructor(message: string, options?: TenanticErrorOptions) {
    super('tool_error', message, { param: 'arguments', ...options });
  }
}
