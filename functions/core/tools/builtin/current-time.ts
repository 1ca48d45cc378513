// Core: the built-in `current_time` tool: the injected clock's time in an IANA time zone.
import { z } from 'zod';
import { defineTool } from '../registry';

const isTimeZone = (value: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
};

const CurrentTimeParametersSchema = z
  .object({
    timezone: z
      .string()
      .min(1)
      .max(64)
      .refine(isTimeZone, {
        message: 'not an IANA time zone (e.g. "Europe/Paris", "America/New_York", "UTC")',
      })
      .default('UTC')
      .describe('IANA time zone name, e.g. "Europe/Paris". Defaults to UTC.'),
  })
  .strict();

export interface CurrentTimeOutput {
  timezone: string;
  /** The instant in UTC, ISO 8601. */
  utc: string;
  /** Local wall-clock time with its offset, ISO 8601 (e.g. 2026-11-21T22:05:00+01:00). */
  local: string;
  weekday: string;
  utc_offset: string;
}

const localParts = (instant: Date, timeZone: string) => {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    weekday: 'long',
    timeZoneName: 'longOffset',
  }).formatToParts(instant);
  const part = (type: Intl.DateTimeFormatPartTypes): string =>
    parts.find((p) => p.type === type)?.value ?? '';
  // `longOffset` renders as "GMT+05:30", or plain "GMT" for a zero offset.
  const offset = part('timeZoneName').replace('GMT', '') || '+00:00';
  return {
    date: `${part('year')}-${part('month')}-${part('day')}`,
    time: `${part('hour')}:${part('minute')}:${part('second')}`,
    weekday: part('weekday'),
    offset,
  };
};

/**
 * The current time in a time zone, from `context.now` (injected, so tests and replays are deterministic).
 *
 * @example
 * await currentTimeTool.run({ timezone: 'Asia/Tokyo' }, { now: () => Date.UTC(2026, 0, 1) });
 * // { timezone: 'Asia/Tokyo', local: '2026-01-01T09:00:00+09:00', weekday: 'Thursday', ... }
 */
export const currentTimeTool = defineTool({
  name: 'current_time',
  description: 'Returns the current date and time in an IANA time zone (default UTC).',
  parameters: CurrentTimeParametersSchema,
  run: ({ timezone }, context): CurrentTimeOutput => {
    const instant = new Date(context.now());
    const local = localParts(instant, timezone);
    return {
      timezone,
      utc: instant.toISOString(),
      local: `${local.date}T${local.time}${local.offset}`,
      weekday: local.weekday,
      utc_offset: local.offset,
    };
  },
});
