// CDK construct: one Lambda function of the catalogue (functions/platform/functions.ts), with its log group,
// role, environment and least-privilege grants.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { Access, FunctionDefinition, FunctionId } from '../../functions/platform/functions';
import { QUEUES, type QueueName } from '../../functions/platform/queues';
import { TABLES, type TableName } from '../../functions/platform/tables';
import { bundledCode, bundleHandler } from '../bundling/lambda-code';
import type { StageConfig } from '../config/stages';
import { grantBucketData } from './bucket-grants';
import { functionEnvironment, type PlatformResources } from './function-environment';
import { grantTableData } from './table-grants';

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

/** CloudFormation metadata key the local platform reads to find a function's source module. */
const FUNCTION_METADATA_KEY = 'Tenantic:Function';

interface FunctionMetadata {
  readonly id: string;
  readonly entry: string;
  readonly handler: string;
}

export interface ServerlessFunctionProps {
  readonly id: FunctionId;
  readonly definition: FunctionDefinition;
  readonly config: StageConfig;
  readonly resources: PlatformResources;
  readonly removalPolicy: RemovalPolicy;
  /** Grants `execute-api:ManageConnections` on this stage's @connections/* (for `wsManagement`). */
  readonly grantManageConnections?: (grantee: iam.IGrantable) => void;
}

/**
 * Documented defaults: nodejs22.x on arm64 (cheaper per ms, and what the project tests on), bundled by
 * lib/bundling (ESM, minified, AWS SDK included with Lambda's credential links only, zod without its unused
 * locales) with source maps switched on at runtime, X-Ray active tracing, a log group with the stage's
 * retention, and a role that may write only to that log group plus what the catalogue entry grants.
 *
 * @example
 * const fn = new ServerlessFunction(this, 'AccountApi', { id: 'account-api', definition, config, resources, removalPolicy });
 */
export class ServerlessFunction extends Construct {
  readonly function: lambda.Function;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;
  readonly catalogueId: FunctionId;

  constructor(scope: Construct, id: string, props: ServerlessFunctionProps) {
    super(scope, id);
    const { definition, config, resources } = props;
    this.catalogueId = props.id;

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.id} (${config.stage})`,
    });
    this.logGroup.grantWrite(this.role);

    const handler = definition.handler ?? 'handler';
    this.function = new lambda.Function(this, 'Function', {
      // NodejsFunction runs the esbuild CLI, which cannot take plugins; our build needs one (lib/bundling).
      code: bundledCode(this, this.resolveEntry(definition.entry)),
      handler: bundleHandler(handler),
      description: definition.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.seconds(definition.timeoutSeconds),
      memorySize: definition.memoryMb,
      role: this.role,
      logGroup: this.logGroup,
      tracing: lambda.Tracing.ACTIVE,
      environment: functionEnvironment(config, definition, resources, props.id),
    });
    const metadata: FunctionMetadata = {
      id: props.id,
      entry: definition.entry,
      handler,
    };
    (this.function.node.defaultChild as lambda.CfnFunction).addMetadata(FUNCTION_METADATA_KEY, metadata);

    this.grant(props);
  }

  // Synth without bundling (tests, the local model) only needs the entry's name, which the metadata carries;
  // the handler modules may not exist yet on a branch that only touches infrastructure. A bundling synth
  // keeps a "cannot find entry" error of its own.
  private resolveEntry(entry: string): string {
    if (existsSync(path.join(REPO_ROOT, entry)) || !Stack.of(this).bundlingRequired) return entry;
    throw new Error(`${this.catalogueId}: cannot find the entry module ${entry}`);
  }

  private grant({ definition, resources, grantManageConnections }: ServerlessFunctionProps): void {
    for (const [name, access] of Object.entries(definition.tables ?? {}) as [TableName, Access][]) {
      grantTableData(this.role, resources.tables[name], TABLES[name], access);
    }
    for (const [name, use] of Object.entries(definition.queues ?? {}) as [QueueName, string][]) {
      const queue = resources.queues[name];
      if (use === 'send') {
        queue.grantSendMessages(this.role);
        continue;
      }
      const settings = QUEUES[name];
      this.function.addEventSource(
        new SqsEventSource(queue, {
          batchSize: settings.batchSize,
          maxBatchingWindow:
            settings.maxBatchingWindowSeconds > 0
              ? Duration.seconds(settings.maxBatchingWindowSeconds)
              : undefined,
          reportBatchItemFailures: true,
        }),
      );
    }
    if (definition.bucket) grantBucketData(this.role, resources.bucket, definition.bucket);
    if (definition.adminKey) resources.adminKey.grantRead(this.role);
    if (definition.llm) {
      for (const secret of Object.values(resources.llmApiKeys)) secret.grantRead(this.role);
    }
    if (definition.wsManagement) {
      if (!grantManageConnections)
        throw new Error(`${this.catalogueId}: wsManagement needs a WebSocket stage`);
      grantManageConnections(this.role);
    }
  }
}
