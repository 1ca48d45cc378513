// Use case: answer one client → server WebSocket frame. Bad input never throws: it becomes an error frame.
import { describeIssues, errorFrame } from './frames';
import {
  CLIENT_ACTIONS,
  type ClientAction,
  type ClientFrame,
  ClientFrameSchema,
  MAX_FRAME_BYTES,
  type ServerFrame,
} from './schemas';

const ACTION_LIST = CLIENT_ACTIONS.join(', ');
/** Echoing a client's text back is capped, so a hostile frame cannot inflate the reply. */
const ECHO_LIMIT = 64;

const isKnownAction = (action: string): action is ClientAction =>
  (CLIENT_ACTIONS as readonly string[]).includes(action);

const echo = (text: string): string => (text.length > ECHO_LIMIT ? `${text.slice(0, ECHO_LIMIT)}…` : text);

/** A client frame read: the valid frame, or the error frame that answers it. */
export type ParsedClientFrame = { readonly frame: ClientFrame } | { readonly reply: ServerFrame };

/**
 * Reads a client frame (the raw message body): size, JSON, action and fields, each refusal an error frame
 * that names what is wrong.
 *
 * @example
 * parseClientFrame('{"action":"cancel","run_id":"run_1"}'); // { frame: { action: 'cancel', run_id: 'run_1' } }
 * parseClientFrame('{"action":"dance"}'); // { reply: { type: 'error', error: { code: 'unknown_action', ... } } }
 */
export const parseClientFrame = (body: string | null | undefined): ParsedClientFrame => {
  if (body === null || body === undefined || body.trim() === '') {
    return {
      reply: errorFrame({
        code: 'invalid_json',
        message: `the frame is empty; send a JSON object with an action`,
      }),
    };
  }
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > MAX_FRAME_BYTES) {
    return {
      reply: errorFrame({
        code: 'frame_too_large',
        message: `the frame is ${bytes} bytes; frames are limited to ${MAX_FRAME_BYTES} bytes`,
      }),
    };
  }

  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (error) {
    const reason = error instanceof Error ? `: ${error.message}` : '';
    return { reply: errorFrame({ code: 'invalid_json', message: `the frame is not valid JSON${reason}` }) };
  }

  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return {
      reply: errorFrame({
        code: 'invalid_frame',
        message: `a frame is a JSON object with an action (one of ${ACTION_LIST})`,
      }),
    };
  }
  const action: unknown = (data as Record<string, unknown>).action;
  if (typeof action !== 'string') {
    return {
      reply: errorFrame({
        code: 'invalid_frame',
        message: `action: required, a string, one of ${ACTION_LIST}`,
        param: 'action',
      }),
    };
  }
  if (!isKnownAction(action)) {
    return {
      reply: errorFrame({
        code: 'unknown_action',
        message: `unknown action '${echo(action)}'; this server understands ${ACTION_LIST}`,
        param: 'action',
      }),
    };
  }

  const parsed = ClientFrameSchema.safeParse(data);
  if (!parsed.success) {
    const { message, param } = describeIssues(parsed.error);
    return {
      reply: errorFrame({ code: 'invalid_frame', message: `invalid '${action}' frame: ${message}`, param }),
    };
  }
  return { frame: parsed.data };
};

/**
 * Parses a client frame and returns the frame to send back when no run actions are wired: `ping` is
 * answered with `pong`; `chat`, `cancel` and `resume` say they are not served by this deployment.
 *
 * @example
 * handleClientFrame('{"action":"ping"}'); // { type: 'pong' }
 * handleClientFrame('{"action":"dance"}'); // { type: 'error', error: { code: 'unknown_action', ... } }
 */
export const handleClientFrame = (body: string | null | undefined): ServerFrame => {
  const parsed = parseClientFrame(body);
  if ('reply' in parsed) return parsed.reply;
  switch (parsed.frame.action) {
    case 'ping':
      return { type: 'pong' };
    case 'chat':
    case 'cancel':
    case 'resume':
      return errorFrame({
        code: 'not_implemented',
        message: `the '${parsed.frame.action}' action is not available yet in this version`,
        param: 'action',
      });
  }
};
