import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBuiltinToolRegistry } from '../../../functions/core/tools/builtin';
import { CalculatorParametersSchema } from '../../../functions/core/tools/builtin/calculator';
import {
  ToolArgumentsError,
  ToolExecutionError,
  UnknownToolError,
} from '../../../functions/core/tools/errors';
import { defineTool, ToolRegistry } from '../../../functions/core/tools/registry';

const tools = createBuiltinToolRegistry();
const at = (iso: string) => ({ now: () => Date.parse(iso) });

describe('calculator tool', () => {
  it('returns the expression and its result', async () => {
    expect(
      await tools.invoke('calculator', '{"expression":"2 * (3 + 4)"}', at('2026-01-01T00:00:00Z')),
    ).toEqual({
      expression: '2 * (3 + 4)',
      result: 14,
    });
  });

  it('turns a division by zero into a 400 tool error with the position', async () => {
    const error = await tools
      .invoke('calculator', { expression: '1/0' }, at('2026-01-01T00:00:00Z'))
      .catch((e) => e);
    expect(error).toBeInstanceOf(ToolExecutionError);
    expect(error).toMatchObject({
      statusCode: 400,
      code: 'tool_error',
      message: 'division by zero at position 1',
    });
  });

  it('answers an inherited Object member such as constructor(1) with a 400 tool error, not a TypeError', async () => {
    const error: unknown = await tools
      .invoke('calculator', { expression: 'constructor(1)' }, at('2026-01-01T00:00:00Z'))
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ToolExecutionError);
    expect(error).toMatchObject({ statusCode: 400, code: 'tool_error' });
    expect((error as Error).message).toContain("unknown name 'constructor'");
  });
});

describe('current_time tool', () => {
  it('gives the injected instant in the requested time zone, with its offset', async () => {
    const output = await tools.invoke(
      'current_time',
      '{"timezone":"Asia/Kolkata"}',
      at('2026-03-01T20:45:10Z'),
    );
    expect(output).toEqual({
      timezone: 'Asia/Kolkata',
      utc: '2026-03-01T20:45:10.000Z',
      local: '2026-03-02T02:15:10+05:30',
      weekday: 'Monday',
      utc_offset: '+05:30',
    });
  });

  it('defaults to UTC and follows daylight saving time', async () => {
    expect(await tools.invoke('current_time', '{}', at('2026-07-04T12:00:00Z'))).toMatchObject({
      timezone: 'UTC',
      local: '2026-07-04T12:00:00+00:00',
    });
    expect(
      await tools.invoke('current_time', { timezone: 'Europe/Paris' }, at('2026-07-04T12:00:00Z')),
    ).toMatchObject({
      local: '2026-07-04T14:00:00+02:00',
    });
    expect(
      await tools.invoke('current_time', { timezone: 'Europe/Paris' }, at('2026-01-04T12:00:00Z')),
    ).toMatchObject({
      local: '2026-01-04T13:00:00+01:00',
    });
  });

  it('rejects a time zone Intl does not know, naming the field', async () => {
    const error = await tools
      .invoke('current_time', { timezone: 'Mars/Olympus' }, at('2026-01-01T00:00:00Z'))
      .catch((e) => e);
    expect(error).toBeInstanceOf(ToolArgumentsError);
    expect((error as ToolArgumentsError).message).toContain('timezone: not an IANA time zone');
  });
});

describe('ToolRegistry', () => {
  it('generates each tool JSON Schema from its zod schema', () => {
    const [calculator] = tools.toLlmTools(['calculator']);
    expect(calculator?.function.parameters).toEqual(
      (({ $schema: _dialect, ...rest }) => rest)(z.toJSONSchema(CalculatorParametersSchema, { io: 'input' })),
    );
    expect(calculator?.function.parameters).toMatchObject({
      type: 'object',
      required: ['expression'],
      additionalProperties: false,
    });
    const [time] = tools.toLlmTools(['current_time']);
    expect(time?.function.parameters).not.toHaveProperty('required');
  });

  it('generates a schema once and shares it frozen, so no request can change the next one', () => {
    const registry = createBuiltinToolRegistry();
    const [first] = registry.toLlmTools(['calculator']);
    const [second] = registry.toLlmTools(['calculator']);
    const parameters = first?.function.parameters as { properties: Record<string, unknown> };

    expect(second?.function.parameters).toBe(first?.function.parameters);
    expect(() => {
      parameters.properties.injected = { type: 'string' };
    }).toThrow(TypeError);
    expect(registry.toLlmTools(['calculator'])[0]?.function.parameters).not.toHaveProperty(
      'properties.injected',
    );
  });

  it('names every bad argument, refuses non-JSON and unknown fields', async () => {
    const ctx = at('2026-01-01T00:00:00Z');
    await expect(tools.invoke('calculator', '{not json', ctx)).rejects.toThrow('not valid JSON');
    await expect(tools.invoke('calculator', { expression: 3 }, ctx)).rejects.toThrow(/expression: /);
    await expect(tools.invoke('calculator', { expression: '1', extra: true }, ctx)).rejects.toThrow(/extra/);
  });

  it('answers 404 for an unknown tool, in calls and in schemas', async () => {
    const error = await tools.invoke('weather', {}, at('2026-01-01T00:00:00Z')).catch((e) => e);
    expect(error).toBeInstanceOf(UnknownToolError);
    expect((error as UnknownToolError).statusCode).toBe(404);
    expect(() => tools.toLlmTools(['weather'])).toThrow(UnknownToolError);
  });

  it('refuses duplicate names and names the model API would refuse', () => {
    const echo = defineTool({ name: 'echo', description: 'e', parameters: z.object({}), run: () => ({}) });
    expect(() => new ToolRegistry([echo, echo])).toThrow('registered twice');
    expect(() =>
      defineTool({ name: 'has space', description: 'x', parameters: z.object({}), run: () => 1 }),
    ).toThrow();
  });
});
