// CDK construct: the stateful data layer: the five DynamoDB tables of the manifest, the files bucket and
// the admin key and one key secret per upstream LLM provider.
import { Duration, type RemovalPolicy, SecretValue } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { TABLES, type TableDefinition, type TableName } from '../../functions/platform/tables';
import type { StageConfig } from '../config/stages';

export interface DataProps {
  readonly config: StageConfig;
  readonly removalPolicy: RemovalPolicy;
  readonly retained: boolean;
}

/**
 * The provider `openai` keeps the id of the single LLM key secret that came before the catalogue, so an
 * existing stage keeps the key its operator stored; every other provider's secret is named after it.
 */
const llmKeyConstructId = (provider: string): string =>
  provider === 'openai' ? 'LlmApiKey' : `LlmApiKey-${provider}`;

const stringKey = (name: string): dynamodb.Attribute => ({ name, type: dynamodb.AttributeType.STRING });

/**
 * Tables (on-demand, PITR, TTL, AWS-managed KMS encryption), the files bucket (private, encrypted, SSL only,
 * CORS from the stage config) and the generated admin key.
 *
 * @example
 * const data = new Data(this, 'Data', { config, removalPolicy: RemovalPolicy.RETAIN, retained: true });
 */
export class Data extends Construct {
  readonly tables: Readonly<Record<TableName, dynamodb.Table>>;
  readonly bucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly adminKey: secretsmanager.Secret;
  /**
   * Each LLM provider's key, by provider name (the stage config's `llm.providers`); created holding
   * `{"key":""}`, which the operator replaces.
   */
  readonly llmApiKeys: Readonly<Record<string, secretsmanager.Secret>>;

  constructor(scope: Construct, id: string, props: DataProps) {
    super(scope, id);
    const tables = {} as Record<TableName, dynamodb.Table>;
    for (const [name, definition] of Object.entries(TABLES) as [TableName, TableDefinition][]) {
      tables[name] = this.table(definition, props);
    }
    this.tables = tables;

    // CloudFormation cannot delete a bucket that holds objects, so a stage that is not retained could never
    // be destroyed once used. Its buckets are emptied on stack deletion (CDK's auto-delete custom resource,
    // whose findings are acknowledged in DataStack); retained stages keep their objects and buckets.
    const autoDeleteObjects = !props.retained;

    // Access logs of the files bucket: who fetched or uploaded which tenant object, kept as long as the logs.
    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogsBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      removalPolicy: props.removalPolicy,
      autoDeleteObjects,
      lifecycleRules: [{ expiration: Duration.days(props.config.logRetentionDays) }],
    });
    this.bucket = new s3.Bucket(this, 'FilesBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: false,
      removalPolicy: props.removalPolicy,
      autoDeleteObjects,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'files/',
      cors:
        props.config.corsOrigins.length > 0
          ? [
              {
                allowedOrigins: [...props.config.corsOrigins],
                allowedMethods: [
                  s3.HttpMethods.GET,
                  s3.HttpMethods.PUT,
                  s3.HttpMethods.POST,
                  s3.HttpMethods.HEAD,
                ],
                allowedHeaders: ['*'],
                exposedHeaders: ['ETag'],
                maxAge: 3000,
              },
            ]
          : undefined,
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });

    this.adminKey = new secretsmanager.Secret(this, 'AdminKey', {
      description: `Tenantic ${props.config.stage}: the admin API key (Authorization: Bearer <key>)`,
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
      removalPolicy: props.removalPolicy,
    });
    // Placeholders, not secrets: CloudFormation writes one once, and only a changed template would write it
    // again, so the value the operator puts stays. An empty key makes the functions answer that provider's
    // models with the rule-based provider (degraded) rather than fail, until the operator sets the real one.
    this.llmApiKeys = Object.fromEntries(
      Object.keys(props.config.llm.providers).map((provider) => [
        provider,
        new secretsmanager.Secret(this, llmKeyConstructId(provider), {
          description:
            `Tenantic ${props.config.stage}: the API key of LLM provider '${provider}' (bare, or ` +
            '{"key":"..."}); set it with aws secretsmanager put-secret-value',
          secretStringValue: SecretValue.unsafePlainText(JSON.stringify({ key: '' })),
          removalPolicy: props.removalPolicy,
        }),
      ]),
    );
  }

  private table(definition: TableDefinition, props: DataProps): dynamodb.Table {
    const table = new dynamodb.Table(this, definition.id, {
      partitionKey: stringKey(definition.partitionKey),
      sortKey: definition.sortKey ? stringKey(definition.sortKey) : undefined,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: definition.ttlAttribute,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: props.removalPolicy,
      deletionProtection: props.retained,
    });
    for (const index of definition.indexes) {
      table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: stringKey(index.partitionKey),
        sortKey: index.sortKey ? stringKey(index.sortKey) : undefined,
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
    return table;
  }
}
