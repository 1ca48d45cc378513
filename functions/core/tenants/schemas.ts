// Core: the tenant and API key vocabulary: request bodies, resources and stored records, all from zod.
import { z } from 'zod';
import { idPattern } from '../ids';
import { listEnvelope } from '../pagination';
import { PlanNameSchema, QuotaOverridesSchema, QuotasSchema } from '../quotas/schemas';

export const TENANT_ID_PATTERN = idPattern('ten');
export const API_KEY_ID_PATTERN = idPattern('key');

const TenantIdSchema = z.string().regex(TENANT_ID_PATTERN, 'not a tenant id');
const ApiKeyIdSchema = z.string().regex(API_KEY_ID_PATTERN, 'not an API key id');

const TenantStatusSchema = z.enum(['active', 'suspended']);

const TenantName = z.string().trim().min(1).max(200);
const ModelId = z.string().min(1).max(128);
const ToolName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'a tool name is 1-64 letters, digits, _ or -');
const uniqueList = <T extends z.ZodType<string>>(item: T, max: number) =>
  z
    .array(item)
    .max(max)
    .refine((list) => new Set(list).size === list.length, 'must not repeat an entry');

const ModelList = uniqueList(ModelId, 100).describe("Allowed model ids; null means the stage's defaults");
const DefaultModel = ModelId.nullable().describe(
  "The model used when a session or chat completion names none: one of the tenant's models; null means " +
    "the stage's default model",
);
const ToolList = uniqueList(ToolName, 128).describe("Allowed tool names; null means the stage's defaults");

export const CreateTenantRequest = z
  .object({
    name: TenantName,
    plan: PlanNameSchema.optional().describe("One of the stage's plans; the default plan when absent"),
    quotas: QuotaOverridesSchema.optional().describe("Overrides of the plan's quotas; null means unlimited"),
    models: ModelList.nullable().optional(),
    default_model: DefaultModel.optional(),
    tools: ToolList.nullable().optional(),
  })
  .strict()
  .meta({ id: 'CreateTenantRequest' });
export type CreateTenantRequest = z.infer<typeof CreateTenantRequest>;

export const UpdateTenantRequest = z
  .object({
    name: TenantName.optional(),
    plan: PlanNameSchema.optional(),
    quotas: QuotaOverridesSchema.optional().describe(
      "Replaces the overrides: a number sets a limit, null means unlimited, an absent field takes the plan's default",
    ),
    models: ModelList.nullable().optional(),
    default_model: DefaultModel.optional(),
    tools: ToolList.nullable().optional(),
    status: TenantStatusSchema.optional().describe("`suspended` stops the tenant's keys at once"),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'at least one field is required' })
  .meta({ id: 'UpdateTenantRequest', minProperties: 1 });
export type UpdateTenantRequest = z.infer<typeof UpdateTenantRequest>;

/** The body of `POST /v1/tenants/{id}/api-keys`: nothing yet, and nothing unknown. */
export const CreateApiKeyRequest = z.object({}).strict().meta({ id: 'CreateApiKeyRequest' });

const unixSeconds = z.number().int().describe('Unix time in seconds');

export const TenantResource = z
  .object({
    id: TenantIdSchema,
    object: z.literal('tenant'),
    name: z.string(),
    plan: z.string(),
    quotas: QuotasSchema.describe('The quotas in force: the overrides over the plan defaults'),
    quota_overrides: QuotaOverridesSchema,
    models: z.array(z.string()).describe("The models the tenant may call: its own list, else the stage's"),
    default_model: z
      .string()
      .nullable()
      .describe("The model used when a request names none; null means the stage's default model"),
    tools: z.array(z.string()).nullable().describe("Allowed tool names; null means the stage's defaults"),
    status: TenantStatusSchema,
    created_at: unixSeconds,
    updated_at: unixSeconds,
  })
  .meta({ id: 'Tenant' });
export type TenantResource = z.infer<typeof TenantResource>;

export const ApiKeyResource = z
  .object({
    id: ApiKeyIdSchema,
    object: z.literal('api_key'),
    prefix: z.string().describe('The first characters of the key, for display'),
    created_at: unixSeconds,
    revoked_at: unixSeconds.nullable(),
  })
  .meta({ id: 'ApiKey' });
export type ApiKeyResource = z.infer<typeof ApiKeyResource>;

export const CreatedApiKeyResource = z
  .object({
    id: ApiKeyIdSchema,
    object: z.literal('api_key'),
    key: z.string().describe('The full key: shown once, never again'),
    prefix: z.string(),
    created_at: unixSeconds,
  })
  .meta({ id: 'CreatedApiKey' });
export type CreatedApiKeyResource = z.infer<typeof CreatedApiKeyResource>;

export const TenantList = listEnvelope(TenantResource).meta({ id: 'TenantList' });
export const ApiKeyList = listEnvelope(ApiKeyResource).meta({ id: 'ApiKeyList' });

export const TenantPathSchema = z.object({ id: TenantIdSchema }).strict();
export const ApiKeyPathSchema = z.object({ id: TenantIdSchema, keyId: ApiKeyIdSchema }).strict();

/**
 * A tenant as stored: overrides rather than effective quotas, so a plan change takes effect at once. The
 * shape, not the rules of a request: a record written under older rules must still read.
 */
export const TenantRecordSchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  plan: z.string(),
  quota_overrides: QuotaOverridesSchema,
  models: z.array(z.string()).nullable(),
  /** Absent on records written before tenants had one: read as null (the stage's default). */
  default_model: z.string().nullable().optional(),
  tools: z.array(z.string()).nullable(),
  status: TenantStatusSchema,
  created_at: unixSeconds,
  updated_at: unixSeconds,
});
export type TenantRecord = z.infer<typeof TenantRecordSchema>;

/** The fields `PATCH` may change. */
export type TenantChanges = Partial<
  Pick<TenantRecord, 'name' | 'plan' | 'quota_overrides' | 'models' | 'default_model' | 'tools' | 'status'>
> & { updated_at: number };

/** An API key as stored: its hash, never the key. */
export const ApiKeyRecordSchema = z.object({
  id: z.string().min(1),
  tenant_id: z.string().min(1),
  prefix: z.string(),
  key_hash: z.string().min(1),
  created_at: unixSeconds,
  revoked_at: unixSeconds.nullable(),
});
export type ApiKeyRecord = z.infer<typeof ApiKeyRecordSchema>;
