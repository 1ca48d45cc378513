// Test helper: a local server speaking enough of OpenAI's chat-completions wire protocol for the real
// `openai` client: JSON and SSE answers, tool calls (streamed as fragments), usage, GET /v1/models, and
// scripted failures (429 with retry-after, 5xx, stalls, a stream cut mid-token). Used by the integration
// tests, and by the benchmarks as a fixed-latency / fixed-token-rate LLM.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface ScriptedUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
}

interface ScriptedToolCall {
  id?: string;
  name: string;
  /** JSON text, sent as the model would write it (in fragments when streaming). */
  arguments: string;
}

type ScriptedResponse =
  /** A text answer. `stallAfterPieces`: when streaming, send that many pieces, then hang. */
  | {
      type: 'text';
      text: string;
      usage?: ScriptedUsage;
      finishReason?: 'stop' | 'length' | 'content_filter';
      model?: string;
      stallAfterPieces?: number;
      /** Paces this answer's streamed pieces at this rate (overrides the server's `piecesPerSecond`). */
      piecesPerSecond?: number;
    }
  /** The assistant calls tools (several: parallel calls), optionally after some text. */
  | { type: 'tool_calls'; calls: ScriptedToolCall[]; text?: string; usage?: ScriptedUsage; model?: string }
  /** An HTTP error in OpenAI's envelope, e.g. 429 with `retry-after`, 500, 400 context_length_exceeded. */
  | {
      type: 'error';
      status: number;
      message?: string;
      code?: string | null;
      errorType?: string;
      headers?: Record<string, string>;
    }
  /** Accepts the request and never answers (until the client gives up or the server closes). */
  | { type: 'stall' }
  /**
   * Streams `afterPieces` pieces, then half of the next chunk, then destroys the socket (non-stream: half
   * the body). With `cleanEnd`, it ends the response properly instead, with neither a finish chunk nor
   * `[DONE]`: a stream that looks complete on the wire but is not.
   */
  | { type: 'cut'; text: string; afterPieces?: number; cleanEnd?: boolean };

interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** The parsed JSON body (undefined for GET). */
  body: Record<string, unknown> | undefined;
  /** The client closed the connection before the response was complete. */
  clientAborted: boolean;
  /**
   * Milliseconds from the request's arrival until its response was flushed, as this server saw it (the
   * LLM's time, which the chat benchmark subtracts from the end-to-end time); undefined until finished.
   */
  durationMs?: number;
  /** When the first streamed text piece was written (epoch ms, sub-ms precision): the LLM's first token. */
  firstPieceAt?: number;
}

export interface FakeOpenAiServerOptions {
  /** Model ids listed by GET /v1/models (default `gpt-4o-mini`, `gpt-4o`). */
  models?: string[];
  /** When set, any other bearer key gets 401. */
  apiKey?: string;
  /** Waited before the first byte of every answer (benchmarks: a fixed-latency LLM). */
  latencyMs?: number;
  /** When set, streamed pieces are paced at this rate (benchmarks: a fixed token rate). */
  piecesPerSecond?: number;
  /** Answered when the script queue is empty (default: a short text). */
  fallback?: ScriptedResponse;
}

export interface FakeOpenAiServer {
  /** Base URL for the `openai` client, ending in `/v1`. */
  baseURL: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Chat-completions requests only. */
  chatRequests(): RecordedRequest[];
  /** Queues answers for the next chat-completions requests, in order. */
  enqueue(...responses: ScriptedResponse[]): void;
  /** Scripted answers not consumed yet. */
  pending(): number;
  /** Drops queued answers and recorded requests. */
  reset(): void;
  close(): Promise<void>;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/** Pieces as a model streams them: each word with its leading whitespace. */
const pieces = (text: string): string[] => text.match(/\s*\S+|\s+$/g) ?? [];

const countPromptTokens = (body: Record<string, unknown>): number => {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const words = messages
    .map((message) => JSON.stringify((message as { content?: unknown }).content ?? ''))
    .join(' ')
    .split(/\s+/)
    .filter(Boolean).length;
  return words + 3 * messages.length + 3;
};

const readBody = async (req: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

const sendJson = (
  res: ServerResponse,
  status: number,
  payload: unknown,
  headers: Record<string, string> = {},
) => {
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'x-request-id': `req_fake_${Date.now()}`,
    ...headers,
  });
  res.end(text);
};

const errorTypeFor = (status: number): string =>
  status === 400
    ? 'invalid_request_error'
    : status === 401
      ? 'invalid_request_error'
      : status === 429
        ? 'requests'
        : status >= 500
          ? 'server_error'
          : 'invalid_request_error';

/**
 * Starts the server on 127.0.0.1 and an ephemeral port.
 *
 * @example
 * const server = await startFakeOpenAiServer();
 * const openai = new OpenAI({ apiKey: 'test', baseURL: server.baseURL, maxRetries: 0 });
 * server.enqueue({ type: 'error', status: 429, headers: { 'retry-after': '0' } }, { type: 'text', text: 'hi' });
 */
export const startFakeOpenAiServer = async (
  options: FakeOpenAiServerOptions = {},
): Promise<FakeOpenAiServer> => {
  const models = options.models ?? ['gpt-4o-mini', 'gpt-4o'];
  const queue: ScriptedResponse[] = [];
  const requests: RecordedRequest[] = [];
  const fallback: ScriptedResponse = options.fallback ?? {
    type: 'text',
    text: 'Hello from the fake server.',
  };
  let sequence = 0;

  const streamAnswer = async (
    res: ServerResponse,
    script: Extract<ScriptedResponse, { type: 'text' | 'tool_calls' | 'cut' }>,
    body: Record<string, unknown>,
    gone: AbortSignal,
    recorded?: RecordedRequest,
  ) => {
    const id = `chatcmpl-fake-${++sequence}`;
    const created = Math.floor(Date.now() / 1000);
    const model = ('model' in script && script.model) || String(body.model);
    const includeUsage = Boolean(
      (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage,
    );
    const rate = (script.type === 'text' && script.piecesPerSecond) || options.piecesPerSecond;
    const pace = rate ? 1000 / rate : 0;
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`;
    const delta = (value: Record<string, unknown>, finishReason: string | null = null) =>
      chunk([{ index: 0, delta: value, logprobs: null, finish_reason: finishReason }]);

    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.write(delta({ role: 'assistant', content: '' }));
    const text = script.type === 'tool_calls' ? (script.text ?? '') : script.text;
    const textPieces = pieces(text);
    let sent = 0;
    for (const [index, piece] of textPieces.entries()) {
      if (gone.aborted) return;
      if (script.type === 'cut' && index === (script.afterPieces ?? 1)) {
        if (script.cleanEnd) {
          res.end();
          return;
        }
        // Half a chunk, cut inside the JSON of a token, then the socket dies.
        const line = delta({ content: piece });
        res.write(line.slice(0, Math.floor(line.length / 2)));
        res.socket?.destroy();
        return;
      }
      if (
        script.type === 'text' &&
        script.stallAfterPieces !== undefined &&
        index === script.stallAfterPieces
      ) {
        await once(gone, 'abort');
        return;
      }
      await sleep(pace, gone);
      if (recorded && recorded.firstPieceAt === undefined) {
        recorded.firstPieceAt = performance.timeOrigin + performance.now();
      }
      res.write(delta({ content: piece }));
      sent += 1;
    }
    if (script.type === 'cut') {
      res.socket?.destroy();
      return;
    }
    let completionTokens = sent;
    if (script.type === 'tool_calls') {
      for (const [index, call] of script.calls.entries()) {
        const callId = call.id ?? `call_fake_${sequence}_${index}`;
        res.write(
          delta({
            tool_calls: [
              { index, id: callId, type: 'function', function: { name: call.name, arguments: '' } },
            ],
          }),
        );
        const third = Math.max(1, Math.ceil(call.arguments.length / 3));
        for (let start = 0; start < call.arguments.length; start += third) {
          await sleep(pace, gone);
          if (gone.aborted) return;
          res.write(
            delta({
              tool_calls: [{ index, function: { arguments: call.arguments.slice(start, start + third) } }],
            }),
          );
          completionTokens += 1;
        }
      }
    }
    const finishReason = script.type === 'tool_calls' ? 'tool_calls' : (script.finishReason ?? 'stop');
    res.write(delta({}, finishReason));
    if (includeUsage) {
      const promptTokens = script.usage?.prompt_tokens ?? countPromptTokens(body);
      const completion = script.usage?.completion_tokens ?? completionTokens;
      res.write(
        chunk([], {
          usage: {
            prompt_tokens: promptTokens,
            completion_tokens: completion,
            total_tokens: promptTokens + completion,
          },
        }),
      );
    }
    res.write('data: [DONE]\n\n');
    res.end();
  };

  const jsonAnswer = (
    res: ServerResponse,
    script: Extract<ScriptedResponse, { type: 'text' | 'tool_calls' | 'cut' }>,
    body: Record<string, unknown>,
  ) => {
    const id = `chatcmpl-fake-${++sequence}`;
    const model = ('model' in script && script.model) || String(body.model);
    const text = script.type === 'tool_calls' ? (script.text ?? null) : script.text;
    const toolCalls =
      script.type === 'tool_calls'
        ? script.calls.map((call, index) => ({
            id: call.id ?? `call_fake_${sequence}_${index}`,
            type: 'function',
            function: { name: call.name, arguments: call.arguments },
          }))
        : undefined;
    const promptTokens = ('usage' in script && script.usage?.prompt_tokens) || countPromptTokens(body);
    const completionTokens =
      ('usage' in script && script.usage?.completion_tokens) ||
      pieces(text ?? '').length + (toolCalls?.length ?? 0) * 3;
    const payload = {
      id,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: text,
            refusal: null,
            ...(toolCalls ? { tool_calls: toolCalls } : {}),
          },
          logprobs: null,
          finish_reason:
            script.type === 'tool_calls'
              ? 'tool_calls'
              : script.type === 'text'
                ? (script.finishReason ?? 'stop')
                : 'stop',
        },
      ],
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
    };
    if (script.type === 'cut') {
      const full = JSON.stringify(payload);
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(full)),
      });
      res.write(full.slice(0, Math.floor(full.length / 2)));
      res.socket?.destroy();
      return;
    }
    sendJson(res, 200, payload);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const gone = new AbortController();
    const arrived = performance.now();
    const raw = await readBody(req);
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    let body: Record<string, unknown> | undefined;
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    } catch {
      sendJson(res, 400, {
        error: { message: 'body is not JSON', type: 'invalid_request_error', code: null, param: null },
      });
      return;
    }
    const record: RecordedRequest = {
      method: req.method ?? '',
      path,
      headers: req.headers,
      body,
      clientAborted: false,
    };
    requests.push(record);
    res.on('finish', () => {
      record.durationMs = performance.now() - arrived;
    });
    res.on('close', () => {
      if (!res.writableFinished) record.clientAborted = true;
      gone.abort();
    });

    if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      sendJson(res, 401, {
        error: {
          message: 'Incorrect API key provided.',
          type: 'invalid_request_error',
          code: 'invalid_api_key',
          param: null,
        },
      });
      return;
    }
    if (req.method === 'GET' && path === '/v1/models') {
      sendJson(res, 200, {
        object: 'list',
        data: models.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'fake' })),
      });
      return;
    }
    if (req.method !== 'POST' || path !== '/v1/chat/completions' || !body) {
      sendJson(res, 404, {
        error: {
          message: `no route ${req.method} ${path}`,
          type: 'invalid_request_error',
          code: null,
          param: null,
        },
      });
      return;
    }

    const script = queue.shift() ?? fallback;
    if (script.type === 'stall') {
      await once(gone.signal, 'abort');
      return;
    }
    await sleep(options.latencyMs ?? 0, gone.signal);
    if (gone.signal.aborted) return;
    if (script.type === 'error') {
      sendJson(
        res,
        script.status,
        {
          error: {
            message: script.message ?? `scripted error ${script.status}`,
            type: script.errorType ?? errorTypeFor(script.status),
            code: script.code ?? null,
            param: null,
          },
        },
        script.headers,
      );
      return;
    }
    if (body.stream === true) await streamAnswer(res, script, body, gone.signal, record);
    else jsonAnswer(res, script, body);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent)
        sendJson(res, 500, {
          error: { message: String(error), type: 'server_error', code: null, param: null },
        });
      else res.socket?.destroy();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    chatRequests: () => requests.filter((request) => request.path === '/v1/chat/completions'),
    enqueue: (...responses) => {
      queue.push(...responses);
    },
    pending: () => queue.length,
    reset: () => {
      queue.length = 0;
      requests.length = 0;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
};
