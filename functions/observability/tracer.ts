// Observability: the function's one Powertools Tracer (AWS X-Ray). It switches itself off outside Lambda
// (tests) and where POWERTOOLS_TRACE_ENABLED=false (the local platform, which has no X-Ray daemon): then
// clients are left as they are and no segment is ever sent. It brings aws-xray-sdk-core (~120 KiB) into
// the bundle, so only what traces imports it: aws-clients.ts, the LLM adapter, the WebSocket and queue
// middlewares, and the HTTP composition roots that pass `invocationTracing()` to httpHandler.
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';

let shared: Tracer | undefined;

/**
 * @example
 * const dynamodb = tracer().captureAWSv3Client(new DynamoDBClient({}));
 */
export const tracer = (): Tracer => {
  // Service name: POWERTOOLS_SERVICE_NAME, the function's catalogue id (Powertools reads it).
  shared ??= new Tracer();
  return shared;
};

/**
 * The invocation's X-Ray subsegment (`## <handler>`, cold start and service annotated), as a middy
 * middleware; our middlewares (HTTP, WebSocket, SQS) run its steps. Never the response: a key creation's
 * body holds the new API key.
 *
 * @example
 * const trace = invocationTracing();
 * middy().use(trace).handler(...);
 */
export const invocationTracing = () => captureLambdaHandler(tracer(), { captureResponse: false });
