// Core: the WebSocket vocabulary of shared/API.md (client actions, server frames) and the connection record.
import { z } from 'zod';
import type { ErrorEnvelope } from '../errors';
import type { RunFrame } from '../streaming/frames';

/** API Gateway cuts every WebSocket connection after 2 hours, so no record needs to outlive that. */
export const MAX_CONNECTION_SECONDS = 2 * 60 * 60;

/** API Gateway's WebSocket frame limit; no frame we send or accept is larger. */
export const MAX_FRAME_BYTES = 32 * 1024;

export const ConnectionRecordSchema = z.object({
  connection_id: z.string().min(1),
  tenant_id: z.string().min(1),
  key_id: z.string().min(1),
  /** ISO 8601 UTC; sorts lexicographically, so it orders a tenant's connections in the index. */
  connected_at: z.iso.datetime(),
  /** Epoch seconds after which the record is stale (DynamoDB TTL). */
  ttl: z.number().int().positive(),
});
export type ConnectionRecord = z.infer<typeof ConnectionRecordSchema>;

const id = z.string().min(1).max(128);

// Strict objects: an unknown field is reported, as the HTTP routes do, instead of silently ignored.
const PingFrameSchema = z.object({ action: z.literal('ping') }).strict();
const ChatFrameSchema = z
  .object({
    action: z.literal('chat'),
    session_id: id,
    content: z.string().refine((text) => text.trim().length > 0, 'must not be empty'),
    client_request_id: id.optional(),
  })
  .strict();
export type ChatFrame = z.infer<typeof ChatFrameSchema>;
const CancelFrameSchema = z.object({ action: z.literal('cancel'), run_id: id }).strict();
export type CancelFrame = z.infer<typeof CancelFrameSchema>;
const ResumeFrameSchema = z
  .object({ action: z.literal('resume'), run_id: id, after_seq: z.number().int().nonnegative() })
  .strict();
export type ResumeFrame = z.infer<typeof ResumeFrameSchema>;

/** A client → server frame, told apart by `action`. */
export const ClientFrameSchema = z.discriminatedUnion('action', [
  ChatFrameSchema,
  CancelFrameSchema,
  ResumeFrameSchema,
  PingFrameSchema,
]);
export type ClientFrame = z.infer<typeof ClientFrameSchema>;
export type ClientAction = ClientFrame['action'];
export const CLIENT_ACTIONS: readonly ClientAction[] = ['chat', 'cancel', 'resume', 'ping'];

/** Server → client frames: `pong`, an error, and a run's frames (each with `run_id` and `seq`). */
export type ServerFrame = { type: 'pong' } | ({ type: 'error' } & ErrorEnvelope) | RunFrame;

/** A WebSocket ticket lives this long: enough to open a socket right after asking for it, no more. */
export const TICKET_TTL_SECONDS = 60;

/** `wst_` and 43 base64url characters (256 random bits). */
export const TICKET_PATTERN = /^wst_[A-Za-z0-9_-]{43}$/;

/** A stored ticket: only the SHA-256 of the ticket is kept, so a read of the table cannot connect. */
export const TicketRecordSchema = z.object({
  ticket_hash: z.string().regex(/^[0-9a-f]{64}$/),
  tenant_id: z.string().min(1),
  key_id: z.string().min(1),
  /** Epoch seconds; the ticket is refused from then on, whether or not DynamoDB has deleted it yet. */
  expires_at: z.number().int().positive(),
});
export type TicketRecord = z.infer<typeof TicketRecordSchema>;

/** What `POST /v1/ws-tickets` answers. */
export const WsTicketResource = z
  .object({
    object: z.literal('ws_ticket'),
    ticket: z.string().describe('Single use; connect with `?ticket=<ticket>` within 60 seconds'),
    expires_at: z.number().int().describe('Unix seconds'),
  })
  .meta({ id: 'WsTicket' });
export type WsTicketResource = z.infer<typeof WsTicketResource>;
