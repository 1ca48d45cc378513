// Local platform: a function's environment variables, with the template's references (tables, queues,
// buckets, the admin key and the LLM providers' key secrets, the @connections endpoint) resolved to their
// local counterparts.
import { ENV, PROVIDER_KEY_SECRET_ARN_VAR } from '../functions/platform/env';
import type { EnvValue, LocalFunction } from './model';
import type { ProvisionedResources } from './provision';

export interface FunctionEnvContext {
  readonly stage: string;
  readonly resources: ProvisionedResources;
  /** Locally the admin key itself replaces the secret's ARN (ENV.adminApiKey). */
  readonly adminKey: string;
  readonly wsManagementEndpoint: string;
  /** AWS_ENDPOINT_URL_*, credentials and region for the emulators. */
  readonly emulatorEnv: Readonly<Record<string, string>>;
  /** Settings the developer gives `npm start` (OPENAI_API_KEY, ...), applied on top. */
  readonly overrides?: Readonly<Record<string, string>>;
  readonly region?: string;
}

const lookup = (map: ReadonlyMap<string, string>, ref: string, kind: string, fn: LocalFunction): string => {
  const value = map.get(ref);
  if (value === undefined) throw new Error(`function '${fn.id}' refers to an unknown ${kind} '${ref}'`);
  return value;
};

const resolveValue = (fn: LocalFunction, value: EnvValue, context: FunctionEnvContext): string => {
  switch (value.kind) {
    case 'literal':
      return value.value;
    case 'table':
      return lookup(context.resources.tables, value.table, 'table', fn);
    case 'queueUrl':
    case 'queueArn': {
      const queue = context.resources.queues.get(value.queue);
      if (!queue) throw new Error(`function '${fn.id}' refers to an unknown queue '${value.queue}'`);
      return value.kind === 'queueUrl' ? queue.url : queue.arn;
    }
    case 'bucket':
      return lookup(context.resources.buckets, value.bucket, 'bucket', fn);
    case 'secretArn':
      // Only the admin key secret reaches here (resolveFunctionEnv routes by variable name): locally the
      // key itself replaces the ARN.
      return context.adminKey;
    case 'wsManagementEndpoint':
      return context.wsManagementEndpoint;
  }
};

/**
 * The complete environment of one function, as Lambda would set it: the platform's reserved variables,
 * the emulator SDK variables, and the function's own variables. Nothing else from the host leaks in.
 *
 * @example
 * const env = resolveFunctionEnv(fn, { stage: 'dev', resources, adminKey, wsManagementEndpoint, emulatorEnv });
 * env.TENANTS_TABLE; // 'tenantic-dev-tenants' (whatever the model names it)
 */
export const resolveFunctionEnv = (
  fn: LocalFunction,
  context: FunctionEnvContext,
): Record<string, string> => {
  const region = context.region ?? 'us-east-1';
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    TZ: 'UTC',
    LANG: 'en_US.UTF-8',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_FUNCTION_NAME: `tenantic-${context.stage}-${fn.id}`,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/tenantic-${context.stage}-${fn.id}`,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    // No X-Ray daemon listens here: Powertools Tracer (which sees a Lambda environment) must stay quiet.
    [ENV.traceEnabled]: 'false',
    ...context.emulatorEnv,
  };
  for (const [name, value] of Object.entries(fn.environment)) {
    if (value.kind === 'secretArn') {
      if (name === ENV.adminKeySecretArn) env[ENV.adminApiKey] = resolveValue(fn, value, context);
      else if (!PROVIDER_KEY_SECRET_ARN_VAR.test(name)) {
        throw new Error(`function '${fn.id}': no local stand-in for the secret in ${name}`);
      }
      // An LLM provider's key has no local secret: it comes from the developer's overrides
      // (TENANTIC_PROVIDER_<NAME>_API_KEY, or OPENAI_API_KEY for the default provider); without one the ARN
      // stays unset, so that provider's models are answered by the rule-based provider.
      continue;
    }
    env[name] = resolveValue(fn, value, context);
  }
  for (const [name, value] of Object.entries(context.overrides ?? {})) {
    if (value !== '') env[name] = value;
  }
  return env;
};
