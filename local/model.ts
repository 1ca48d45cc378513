// Local platform: the model of one synthesized stage, as read out of its CloudFormation templates.
// `template-model.ts` builds it from the CDK app; the emulators and servers are driven only by it, so
// whatever the cloud stack declares is what runs locally.

/** An environment value as the template states it, before local addresses are known. */
export type EnvValue =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'table'; readonly table: string }
  | { readonly kind: 'queueUrl'; readonly queue: string }
  | { readonly kind: 'queueArn'; readonly queue: string }
  | { readonly kind: 'bucket'; readonly bucket: string }
  /**
   * A secret's ARN. Locally the admin key itself is handed over as ADMIN_API_KEY; the upstream LLM key's
   * ARN stays unset (OPENAI_API_KEY comes from the developer's overrides).
   */
  | { readonly kind: 'secretArn'; readonly secret: string }
  /** The WebSocket API's @connections endpoint. */
  | { readonly kind: 'wsManagementEndpoint' };

export interface LocalTable {
  /** Local physical name; the template's logical id. */
  readonly name: string;
  readonly logicalId: string;
  readonly keySchema: readonly { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[];
  readonly attributeDefinitions: readonly { AttributeName: string; AttributeType: 'S' | 'N' | 'B' }[];
  readonly globalSecondaryIndexes: readonly {
    IndexName: string;
    KeySchema: readonly { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[];
    Projection: { ProjectionType: string; NonKeyAttributes?: string[] };
  }[];
  readonly ttlAttribute?: string;
}

export interface LocalQueue {
  readonly name: string;
  readonly logicalId: string;
  readonly fifo: boolean;
  readonly visibilityTimeoutSeconds: number;
  readonly messageRetentionSeconds: number;
  readonly redrive?: { readonly deadLetterQueue: string; readonly maxReceiveCount: number };
}

export interface LocalCorsRule {
  readonly allowedOrigins: readonly string[];
  readonly allowedMethods: readonly string[];
  readonly allowedHeaders: readonly string[];
  readonly exposedHeaders: readonly string[];
  readonly maxAgeSeconds?: number;
}

export interface LocalBucket {
  readonly name: string;
  readonly logicalId: string;
  readonly cors: readonly LocalCorsRule[];
}

export interface LocalFunction {
  readonly logicalId: string;
  /** The catalogue id from functions/platform/functions.ts (template metadata `Tenantic:Function`). */
  readonly id: string;
  /** Source module from the repository root, e.g. `functions/handlers/tenants-api.ts`. */
  readonly entry: string;
  readonly handler: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly environment: Readonly<Record<string, EnvValue>>;
}

export interface LocalAuthorizer {
  /** LocalFunction.id of the authorizer. */
  readonly functionId: string;
  /** HTTP API: `2.0`; WebSocket: `1.0` (IAM policy responses). */
  readonly payloadFormatVersion: '1.0' | '2.0';
  readonly simpleResponses: boolean;
  /** e.g. `$request.header.Authorization` / `route.request.header.Authorization`; empty means not cached. */
  readonly identitySource: readonly string[];
  readonly resultTtlSeconds: number;
}

export interface LocalRoute {
  /** `GET /v1/tenants/{id}` for HTTP; `$connect`/`$default`/an action for WebSocket. */
  readonly routeKey: string;
  /** LocalFunction.id of the integration target. */
  readonly functionId: string;
  readonly authorizer?: LocalAuthorizer;
}

export interface LocalHttpApi {
  readonly routes: readonly LocalRoute[];
  readonly cors?: {
    readonly allowOrigins: readonly string[];
    readonly allowMethods: readonly string[];
    readonly allowHeaders: readonly string[];
    readonly exposeHeaders: readonly string[];
    readonly maxAgeSeconds?: number;
    readonly allowCredentials?: boolean;
  };
}

export interface LocalWebSocketApi {
  readonly routeSelectionExpression: string;
  readonly routes: readonly LocalRoute[];
}

export interface LocalEventSource {
  readonly functionId: string;
  readonly queue: string;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  readonly reportBatchItemFailures: boolean;
}

export interface LocalPlatformModel {
  readonly stage: string;
  readonly tables: readonly LocalTable[];
  readonly queues: readonly LocalQueue[];
  readonly buckets: readonly LocalBucket[];
  readonly functions: readonly LocalFunction[];
  readonly httpApi: LocalHttpApi;
  readonly webSocketApi: LocalWebSocketApi;
  readonly eventSources: readonly LocalEventSource[];
}
