// Observability: structured JSON logs on stdout (CloudWatch in the cloud, the terminal locally).
// Every line carries the level, message, timestamp and the bound context (request id, tenant id, ...).

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

const serializeError = (error: unknown): unknown =>
  error instanceof Error
    ? { name: error.name, message: error.message, stack: error.stack, cause: serializeError(error.cause) }
    : error;

/**
 * A logger bound to a context; `child` adds fields without mutating the parent.
 *
 * @example
 * const log = createLogger({ service: 'tenants-api' }).child({ request_id: 'abc' });
 * log.info('tenant created', { tenant_id: 'ten_1' });
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; tests pass their own sink. */
  sink?: (line: string) => void;
}

const parseLevel = (value: string | undefined): LogLevel =>
  value !== undefined && value.toLowerCase() in LEVELS ? (value.toLowerCase() as LogLevel) : 'info';

export const createLogger = (context: LogFields = {}, options: LoggerOptions = {}): Logger => {
  const level = options.level ?? parseLevel(process.env.LOG_LEVEL);
  const sink = options.sink ?? ((line: string) => process.stdout.write(`${line}\n`));
  const write = (at: LogLevel, message: string, fields: LogFields = {}) => {
    if (LEVELS[at] < LEVELS[level]) return;
    const entry: LogFields = { level: at, message, timestamp: new Date().toISOString(), ...context };
    for (const [key, value] of Object.entries(fields))
      entry[key] = key === 'error' ? serializeError(value) : value;
    sink(JSON.stringify(entry));
  };
  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
    child: (fields) => createLogger({ ...context, ...fields }, { level, sink }),
  };
};
