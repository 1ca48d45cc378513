// Core: what a tool is (name, description, zod parameters, run) and the registry that validates
// arguments and turns the same zod schemas into the JSON Schemas the model sees.
import { z } from 'zod';
import type { FunctionTool, JsonSchema } from '../llm/types';
import { ToolArgumentsError, UnknownToolError } from './errors';

/** What a tool may use besides its arguments; the clock is injected so tests need no fake timers. */
export interface ToolContext {
  /** Epoch milliseconds. */
  now: () => number;
  signal?: AbortSignal;
  tenantId?: string;
}

/**
 * A tool the agent can call. `parameters` is the single source of truth: it validates the model's
 * arguments and generates the JSON Schema the model is shown.
 */
export interface ToolDefinition<Parameters extends z.ZodType = z.ZodType> {
  /** `^[a-zA-Z0-9_-]{1,64}$`, OpenAI's rule for function names. */
  readonly name: string;
  readonly description: string;
  readonly parameters: Parameters;
  /** Returns a JSON-serializable output; throws ToolExecutionError for a refusal the model should read. */
  run(args: z.output<Parameters>, context: ToolContext): Promise<unknown> | unknown;
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * Declares a tool with its argument types inferred from the zod schema.
 *
 * @example
 * const echo = defineTool({
 *   name: 'echo',
 *   description: 'Repeats the text',
 *   parameters: z.object({ text: z.string() }).strict(),
 *   run: ({ text }) => ({ text }),
 * });
 */
export const defineTool = <Parameters extends z.ZodType>(
  definition: ToolDefinition<Parameters>,
): ToolDefinition<Parameters> => {
  if (!TOOL_NAME.test(definition.name)) throw new Error(`invalid tool name '${definition.name}'`);
  return definition;
};

/** The JSON Schema a model is shown for a tool's parameters (what the model must send, so `input`). */
const toJsonSchema = (parameters: z.ZodType): JsonSchema => {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(parameters, { io: 'input' }) as JsonSchema;
  return schema;
};

const deepFreeze = <T>(value: T): T => {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
};

const describeIssues = (error: z.ZodError): string =>
  error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(arguments)'}: ${issue.message}`)
    .join('; ');

/**
 * The tools one deployment offers, by name.
 *
 * @example
 * const tools = new ToolRegistry([calculatorTool, currentTimeTool]);
 * const llmTools = tools.toLlmTools(['calculator']); // FunctionTool[] for the ChatRequest
 * const output = await tools.invoke('calculator', '{"expression":"2+2"}', { now: Date.now });
 */
export class ToolRegistry {
  private readonly tools = new Map<string, ToolDefinition>();
  /** Each tool's JSON Schema, generated from zod once per container rather than on every step. */
  private readonly schemas = new Map<string, JsonSchema>();

  constructor(tools: readonly ToolDefinition[]) {
    for (const tool of tools) {
      if (this.tools.has(tool.name)) throw new Error(`tool '${tool.name}' registered twice`);
      this.tools.set(tool.name, tool);
    }
  }

  names(): string[] {
    return [...this.tools.keys()];
  }

  get(name: string): ToolDefinition | undefined {
    return this.tools.get(name);
  }

  /** Function tools for a chat request: all, or the named ones (an unknown name throws UnknownToolError). */
  toLlmTools(names: readonly string[] = this.names()): FunctionTool[] {
    return names.map((name) => {
      const tool = this.tools.get(name);
      if (!tool) throw new UnknownToolError(name);
      return {
        type: 'function',
        function: {
          name: tool.name,
          description: tool.description,
          parameters: this.schemaOf(tool),
        },
      };
    });
  }

  /** The tool's JSON Schema, shared by every request and so frozen: a caller cannot change it for the next. */
  private schemaOf(tool: ToolDefinition): JsonSchema {
    let schema = this.schemas.get(tool.name);
    if (!schema) {
      schema = deepFreeze(toJsonSchema(tool.parameters));
      this.schemas.set(tool.name, schema);
    }
    return schema;
  }

  /**
   * Validates the arguments (JSON text as a model writes it, or an already parsed value) and runs the tool.
   * Throws UnknownToolError, ToolArgumentsError naming every issue, or whatever the tool throws.
   */
  async invoke(name: string, rawArguments: unknown, context: ToolContext): Promise<unknown> {
    const tool = this.tools.get(name);
    if (!tool) throw new UnknownToolError(name);
    let value = rawArguments;
    if (typeof rawArguments === 'string') {
      try {
        value = rawArguments.trim() === '' ? {} : JSON.parse(rawArguments);
      } catch {
        throw new ToolArgumentsError(`arguments for '${name}' are not valid JSON`);
      }
    }
    const parsed = tool.parameters.safeParse(value);
    if (!parsed.success) {
      throw new ToolArgumentsError(`invalid arguments for '${name}': ${describeIssues(parsed.error)}`);
    }
    return tool.run(parsed.data, context);
  }
}
