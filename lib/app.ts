// CDK app: one stage = a stateful data stack and a stateless API stack, checked by cdk-nag on every synth.
import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ApiStack } from './api-stack';
import { FEATURE_FLAGS } from './config/feature-flags';
import { type LoadStageConfigOptions, loadStageConfig, type StageConfig } from './config/stages';
import { DataStack } from './data-stack';

export interface BuildAppOptions extends LoadStageConfigOptions {
  readonly stage: string;
  /** App context, e.g. `{ 'aws:cdk:bundling-stacks': [] }` to skip bundling in tests. */
  readonly context?: Record<string, unknown>;
  readonly outdir?: string;
}

export interface BuiltApp {
  readonly app: App;
  readonly dataStack: DataStack;
  readonly apiStack: ApiStack;
  readonly config: StageConfig;
}

const stackNames = (stage: string) => ({
  data: `Tenantic-${stage}-Data`,
  api: `Tenantic-${stage}-Api`,
});

/**
 * Builds (does not synthesize) the app of one stage.
 *
 * @example
 * const { app, apiStack } = buildApp({ stage: 'acme', context: { 'aws:cdk:bundling-stacks': [] } });
 * const assembly = app.synth();
 */
export const buildApp = (options: BuildAppOptions): BuiltApp => {
  const config = loadStageConfig(options.stage, options.configDir ? { configDir: options.configDir } : {});
  const app = new App({ context: { ...FEATURE_FLAGS, ...options.context }, outdir: options.outdir });
  const names = stackNames(config.stage);
  const description = `Tenantic stage ${config.stage}`;
  const tags: Record<string, string> = {
    'tenantic:stage': config.stage,
    'tenantic:tenancy': config.tenancy,
    ...(config.tenant && { 'tenantic:tenant': config.tenant }),
  };
  // On the stacks themselves (explicit, as the `explicitStackTags` flag wants: CloudFormation also tags what
  // it creates on their behalf), and on every taggable resource.
  const dataStack = new DataStack(app, names.data, {
    config,
    description: `${description}: tables, bucket, queues, admin key`,
    terminationProtection: config.removalPolicy === 'retain',
    tags,
  });
  const apiStack = new ApiStack(app, names.api, {
    config,
    data: dataStack,
    description: `${description}: functions, APIs, alarms`,
    tags,
  });
  apiStack.addStackDependency(dataStack);

  for (const [key, value] of Object.entries(tags)) Tags.of(app).add(key, value);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, dataStack, apiStack, config };
};
