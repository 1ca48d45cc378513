// Local platform: the inside of one Lambda execution environment (a worker thread). Imports the handler
// module once (the cold start), then runs one invocation at a time with a Lambda-like context.
import { parentPort, workerData } from 'node:worker_threads';
import {
  type AwsRequestTally,
  awsRequestTally,
  startAwsRequestTally,
} from '../functions/observability/aws-requests';

export interface WorkerData {
  readonly moduleUrl: string;
  readonly handlerName: string;
  readonly functionName: string;
  readonly memoryMb: number;
  readonly region: string;
}

export interface InvokeRequest {
  readonly type: 'invoke';
  readonly awsRequestId: string;
  readonly deadline: number;
  readonly event: unknown;
}

export interface LambdaErrorPayload {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace?: readonly string[];
}

export type WorkerMessage =
  | { readonly type: 'ready'; readonly initMs: number }
  | { readonly type: 'initError'; readonly error: LambdaErrorPayload }
  | {
      readonly type: 'result';
      readonly awsRequestId: string;
      readonly payload: string | undefined;
      readonly awsRequests: AwsRequestTally;
    }
  | {
      readonly type: 'error';
      readonly awsRequestId: string;
      readonly error: LambdaErrorPayload;
      readonly awsRequests: AwsRequestTally;
    };

type Handler = (
  event: unknown,
  context: unknown,
  callback?: (error: unknown, result?: unknown) => void,
) => unknown;

const data = workerData as WorkerData;
const RESPONSE_LIMIT_BYTES = 6_291_556;
const port = parentPort!;

const toErrorPayload = (error: unknown): LambdaErrorPayload => {
  if (error instanceof Error) {
    return {
      errorType: error.name || 'Error',
      errorMessage: error.message,
      trace: (error.stack ?? '').split('\n'),
    };
  }
  return { errorType: typeof error === 'string' ? 'string' : 'Error', errorMessage: String(error) };
};

const post = (message: WorkerMessage): void => port.postMessage(message);

const contextFor = (request: InvokeRequest) => ({
  awsRequestId: request.awsRequestId,
  functionName: data.functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:${data.region}:123456789012:function:${data.functionName}`,
  // The Node.js runtime hands the memory size over as a string.
  memoryLimitInMB: String(data.memoryMb),
  logGroupName: `/aws/lambda/${data.functionName}`,
  logStreamName: `local/[$LATEST]${request.awsRequestId.replaceAll('-', '')}`,
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => Math.max(0, request.deadline - Date.now()),
});

const run = async (handler: Handler, request: InvokeRequest): Promise<unknown> => {
  const context = contextFor(request);
  if (handler.length >= 3) {
    return new Promise((resolve, reject) => {
      const callback = (error: unknown, result?: unknown): void => (error ? reject(error) : resolve(result));
      const returned = handler(request.event, context, callback);
      if (returned && typeof (returned as Promise<unknown>).then === 'function') {
        (returned as Promise<unknown>).then(resolve, reject);
      }
    });
  }
  return handler(request.event, context);
};

const start = async (): Promise<void> => {
  const started = performance.now();
  let handler: Handler;
  try {
    const module = (await import(data.moduleUrl)) as Record<string, unknown>;
    const candidate = module[data.handlerName];
    if (typeof candidate !== 'function') {
      post({
        type: 'initError',
        error: {
          errorType: 'Runtime.HandlerNotFound',
          errorMessage: `${data.moduleUrl.split('/').at(-1)}.${data.handlerName} is undefined or not exported`,
        },
      });
      return;
    }
    handler = candidate as Handler;
  } catch (error) {
    const payload = toErrorPayload(error);
    const code = (error as { code?: unknown } | null)?.code;
    // Lambda reports a module that cannot be loaded as Runtime.ImportModuleError.
    post({
      type: 'initError',
      error:
        code === 'ERR_MODULE_NOT_FOUND'
          ? {
              ...payload,
              errorType: 'Runtime.ImportModuleError',
              errorMessage: `Error: ${payload.errorMessage}`,
            }
          : payload,
    });
    return;
  }
  port.on('message', async (request: InvokeRequest) => {
    // The function's SDK clients count their requests on this thread's tally (one invocation at a time).
    startAwsRequestTally();
    try {
      const result = await run(handler, request);
      // Lambda serializes the response as JSON: what JSON drops (undefined, functions) is lost here too.
      const payload = JSON.stringify(result ?? null);
      if (Buffer.byteLength(payload) > RESPONSE_LIMIT_BYTES) {
        post({
          type: 'error',
          awsRequestId: request.awsRequestId,
          error: {
            errorType: 'Function.ResponseSizeTooLarge',
            errorMessage: `Response payload size exceeded maximum allowed payload size (${RESPONSE_LIMIT_BYTES} bytes).`,
          },
          awsRequests: awsRequestTally(),
        });
        return;
      }
      post({ type: 'result', awsRequestId: request.awsRequestId, payload, awsRequests: awsRequestTally() });
    } catch (error) {
      post({
        type: 'error',
        awsRequestId: request.awsRequestId,
        error: toErrorPayload(error),
        awsRequests: awsRequestTally(),
      });
    }
  });
  post({ type: 'ready', initMs: performance.now() - started });
};

await start();
