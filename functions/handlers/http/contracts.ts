// Handlers: each HTTP operation's schemas and success status. The middleware validates with them and
// the OpenAPI document is generated from them, so the contract is written once.
import { z } from 'zod';
import {
  ChatCompletionRequest,
  ChatCompletionResponse,
  SendMessageRequest,
  SendMessageResult,
} from '../../core/chat/schemas';
import { WsTicketResource } from '../../core/connections/schemas';
import { PageQuerySchema } from '../../core/pagination';
import { UsageReport } from '../../core/quotas/get-usage';
import {
  CreateSessionRequest,
  DeletedSessionResource,
  MessageList,
  MessagePageQuery,
  RunPathSchema,
  RunResource,
  SessionList,
  SessionPageQuery,
  SessionPathSchema,
  SessionResource,
} from '../../core/sessions/schemas';
import { ModelList } from '../../core/tenants/list-models';
import {
  ApiKeyList,
  ApiKeyPathSchema,
  CreateApiKeyRequest,
  CreatedApiKeyResource,
  CreateTenantRequest,
  TenantList,
  TenantPathSchema,
  TenantResource,
  UpdateTenantRequest,
} from '../../core/tenants/schemas';
import type { HTTP_ROUTES } from '../../platform/routes';

export type OperationId = (typeof HTTP_ROUTES)[number]['operationId'];

export interface OperationContract {
  readonly status: 200 | 201 | 202 | 204;
  readonly body?: z.ZodType;
  readonly query?: z.ZodType;
  readonly path?: z.ZodType;
  /** Absent for 204. */
  readonly response?: z.ZodType;
}

/** The OpenAPI document itself: an object, described loosely on purpose. */
const OpenApiDocument = z.record(z.string(), z.unknown()).meta({ id: 'OpenApiDocument' });

export const CONTRACTS = {
  getOpenApi: { status: 200, response: OpenApiDocument },
  createTenant: { status: 201, body: CreateTenantRequest, response: TenantResource },
  listTenants: { status: 200, query: PageQuerySchema, response: TenantList },
  getTenant: { status: 200, path: TenantPathSchema, response: TenantResource },
  updateTenant: { status: 200, path: TenantPathSchema, body: UpdateTenantRequest, response: TenantResource },
  // The body is optional, but anything sent must be an empty object.
  createApiKey: {
    status: 201,
    path: TenantPathSchema,
    body: CreateApiKeyRequest.optional(),
    response: CreatedApiKeyResource,
  },
  listApiKeys: { status: 200, path: TenantPathSchema, query: PageQuerySchema, response: ApiKeyList },
  revokeApiKey: { status: 204, path: ApiKeyPathSchema },
  listModels: { status: 200, response: ModelList },
  getUsage: { status: 200, response: UsageReport },
  // No body: the ticket is bound to the calling key; an empty object is accepted for clients that send one.
  createWsTicket: { status: 201, body: z.object({}).strict().optional(), response: WsTicketResource },
  createSession: { status: 201, body: CreateSessionRequest, response: SessionResource },
  listSessions: { status: 200, query: SessionPageQuery, response: SessionList },
  getSession: { status: 200, path: SessionPathSchema, response: SessionResource },
  deleteSession: { status: 200, path: SessionPathSchema, response: DeletedSessionResource },
  listMessages: { status: 200, path: SessionPathSchema, query: MessagePageQuery, response: MessageList },
  getRun: { status: 200, path: RunPathSchema, response: RunResource },
  sendMessage: {
    status: 200,
    path: SessionPathSchema,
    body: SendMessageRequest,
    response: SendMessageResult,
  },
  cancelRun: { status: 200, path: RunPathSchema, response: RunResource },
  createChatCompletion: { status: 200, body: ChatCompletionRequest, response: ChatCompletionResponse },
} as const satisfies Record<OperationId, OperationContract>;

export type Contracts = typeof CONTRACTS;

type RouteOf<Op extends OperationId> = Extract<(typeof HTTP_ROUTES)[number], { operationId: Op }>;
export type AuthOf<Op extends OperationId> = RouteOf<Op>['auth'];

type Infer<C, K extends 'body' | 'query' | 'path' | 'response'> = C extends {
  [P in K]: infer S extends z.ZodType;
}
  ? z.output<S>
  : undefined;

export type BodyOf<Op extends OperationId> = Infer<Contracts[Op], 'body'>;
export type QueryOf<Op extends OperationId> = Infer<Contracts[Op], 'query'>;
export type PathOf<Op extends OperationId> = Infer<Contracts[Op], 'path'>;
export type ResultOf<Op extends OperationId> = Contracts[Op] extends { response: infer S extends z.ZodType }
  ? z.input<S>
  : undefined;
