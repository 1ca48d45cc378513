// Observability: structured JSON logs on stdout (CloudWatch in the cloud, the terminal locally), written by
// Powertools Logger behind our small call-site interface (createLogger/child), so the core and the
// middlewares never import Powertools. Every line carries the level, message, timestamp, service (the
// function's catalogue id, POWERTOOLS_SERVICE_NAME), sampling rate, X-Ray trace id and the bound context
// (request id, tenant id, run id, connection id, ...). Debug sampling: POWERTOOLS_LOGGER_SAMPLE_RATE (the
// stage's `logSampleRate`), drawn once per invocation: the middlewares call `newInvocation()`. A child
// shares its root's Powertools logger and adds its fields to each line, so it draws nothing itself.
import { LogFormatter, LogItem, Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type {
  ConstructorOptions,
  LogAttributes,
  UnformattedAttributes,
} from '@aws-lambda-powertools/logger/types';

type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Record<string, unknown>;

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
  /**
   * An invocation begins: draw the debug sampling again for it (Powertools' refreshSampleRateCalculation).
   * Optional, so a test's own Logger need not have it.
   */
  newInvocation?(): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; tests pass their own sink. Default: stdout, every level (as before Powertools). */
  sink?: (line: string) => void;
}

const stdoutSink = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/**
 * Powertools' standard keys, with the level in lower case as our log queries (and tests) have always read
 * it. Powertools' own Lambda-context keys are left out: the middlewares bind the request ids we use.
 */
class TenanticLogFormatter extends LogFormatter {
  formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    return new LogItem({
      attributes: {
        level: attributes.logLevel.toLowerCase(),
        message: attributes.message,
        timestamp: this.formatTimestamp(attributes.timestamp),
        service: attributes.serviceName,
        sampling_rate: attributes.sampleRateValue,
        xray_trace_id: attributes.xRayTraceId,
      },
    }).addAttributes(additional);
  }
}

/** Powertools Logger printing through a sink (stdout for every level by default). */
class SinkLogger extends PowertoolsLogger {
  /** The sink of the logger under construction: Powertools' constructor may already print (sampling). */
  private static constructing: ((line: string) => void) | undefined;
  private sink: ((line: string) => void) | undefined;

  constructor(options: ConstructorOptions, sink?: (line: string) => void) {
    SinkLogger.constructing = sink;
    try {
      super(options);
    } finally {
      SinkLogger.constructing = undefined;
    }
    this.sink = sink;
  }

  protected override printLog(_level: number, log: LogItem): void {
    log.prepareForPrint();
    const sink = this.sink ?? SinkLogger.constructing ?? stdoutSink;
    sink(JSON.stringify(log.getAttributes(), this.getJsonReplacer()));
  }

  protected override createLogger(options?: ConstructorOptions): SinkLogger {
    return new SinkLogger(options ?? {}, this.sink);
  }
}

/**
 * Our interface over one Powertools logger, with the fields bound by `child` (its own persistent keys are
 * the root's). Not Powertools' createChild: each child would draw the debug sampling again, so a request
 * that binds three children would be sampled at about three times the stage's rate.
 */
const wrap = (logger: PowertoolsLogger, bound: LogAttributes = {}): Logger => {
  const with_ = (fields?: LogFields): LogAttributes => ({ ...bound, ...withoutUndefined(fields ?? {}) });
  return {
    debug: (message, fields) => logger.debug(message, with_(fields)),
    info: (message, fields) => logger.info(message, with_(fields)),
    warn: (message, fields) => logger.warn(message, with_(fields)),
    error: (message, fields) => logger.error(message, with_(fields)),
    child: (fields) => wrap(logger, with_(fields)),
    newInvocation: () => logger.refreshSampleRateCalculation(),
  };
};

const withoutUndefined = (fields: LogFields): LogAttributes =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as LogAttributes;

/**
 * A root logger. `context.service` names the component when the function's own service name
 * (POWERTOOLS_SERVICE_NAME, its catalogue id) is not set, as in unit tests; when it is, the component's
 * name goes in as `component`. Level: `options.level`, else POWERTOOLS_LOG_LEVEL / LOG_LEVEL (Powertools).
 *
 * @example
 * const logger = createLogger({ service: 'chat-worker' });
 * logger.child({ run_id: 'run_1' }).info('run started');
 */
export const createLogger = (context: LogFields = {}, options: LoggerOptions = {}): Logger => {
  const { service, ...keys } = context;
  const functionService = process.env.POWERTOOLS_SERVICE_NAME;
  const component = typeof service === 'string' ? service : undefined;
  const persistentKeys = withoutUndefined({
    ...keys,
    ...(functionService && component && component !== functionService && { component }),
  });
  const logger = new SinkLogger(
    {
      serviceName: functionService || component || 'tenantic',
      logFormatter: new TenanticLogFormatter(),
      ...(options.level && { logLevel: options.level }),
      ...(Object.keys(persistentKeys).length > 0 && { persistentKeys }),
    },
    options.sink ?? stdoutSink,
  );
  return wrap(logger);
};
