// Use case: answer one client → server WebSocket frame. Bad input never throws: it becomes an error frame.
import { describeIssues, errorFrame } from './frames';
import {
  CLIENT_ACTIONS,
  type ClientAction,
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

/**
 * Parses a client frame (the raw message body) and returns the frame to send back. `ping` is answered
 * with `pong`; `chat`, `cancel` and `resume` are valid but not served by this version, and say so.
 *
 * @example
 * handleClientFrame('{"action":"ping"}'); // { type: 'pong' }
 * handleClientFrame('{"action":"dance"}'); // { type: 'error', error: { code: 'unknown_action', ... } }
 */
export const handleClientFrame = (body: string | null | undefined): ServerFrame => {
  if (body === null || body === undefined || body.trim() === '') {
    return errorFrame({
      code: 'invalid_json',
      message: `the frame is empty; send a JSON object with an action`,
    });
  }
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > MAX_FRAME_BYTES) {
    return errorFrame({
      code: 'frame_too_large',
      message: `the frame is ${bytes} bytes; frames are limited to ${MAX_FRAME_BYTES} bytes`,
    });
  }

  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (error) {
    const reason = error instanceof Error ? `: ${error.message}` : '';
    return errorFrame({ code: 'invalid_json', message: `the frame is not valid JSON${reason}` });
  }

  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return errorFrame({
      code: 'invalid_frame',
      message: `a frame is a JSON object with an action (one of ${ACTION_LIST})`,
    });
  }
  const action: unknown = (data as Record<string, unknown>).action;
  if (typeof action !== 'string') {
    return errorFrame({
      code: 'invalid_frame',
      message: `action: required, a string, one of ${ACTION_LIST}`,
      param: 'action',
    });
  }
  if (!isKnownAction(action)) {
    return errorFrame({
      code: 'unknown_action',
      message: `unknown action '${echo(action)}'; this server understands ${ACTION_LIST}`,
      param: 'action',
    });
  }

  const parsed = ClientFrameSchema.safeParse(data);
  if (!parsed.success) {
    const { message, param } = describeIssues(parsed.error);
    return errorFrame({ code: 'invalid_frame', message: `invalid '${action}' frame: ${message}`, param });
  }

  switch (parsed.data.action) {
    case 'ping':
      return { type: 'pong' };
    case 'chat':
    case 'cancel':
    case 'resume':
      return errorFrame({
        code: 'not_implemented',
        message: `the '${parsed.data.action}' action is not available yet in this version`,
        param: 'action',
      });
  }
};
