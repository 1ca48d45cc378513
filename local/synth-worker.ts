// Local platform: synthesizes one stage's CDK app in a worker thread and posts back its model, so that
// aws-cdk-lib (and the synthesis' garbage) never lives in the platform's own isolate, whose event loop
// carries every HTTP and WebSocket request; the thread, and its heap, end with the synthesis.
import { parentPort, workerData } from 'node:worker_threads';
import type { LocalPlatformModel } from './model';

export interface SynthRequest {
  readonly stage: string;
}

export type SynthReply =
  | { readonly ok: true; readonly model: LocalPlatformModel }
  | { readonly ok: false; readonly name: string; readonly message: string; readonly stack?: string };

const { stage } = workerData as SynthRequest;
let reply: SynthReply;
try {
  const { loadLocalModel } = await import('./template-model');
  reply = { ok: true, model: await loadLocalModel({ stage }) };
} catch (error) {
  const failure = error instanceof Error ? error : new Error(String(error));
  reply = {
    ok: false,
    name: failure.name,
    message: failure.message,
    ...(failure.stack ? { stack: failure.stack } : {}),
  };
}
parentPort!.postMessage(reply);
