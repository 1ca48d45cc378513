// Use case: the models a tenant may call, in OpenAI's model list shape, each owned by its provider.
import { z } from 'zod';
import { effectiveModels, type TenantSettings } from './model';
import type { TenantRecord } from './schemas';

const ModelResource = z
  .object({
    id: z.string(),
    object: z.literal('model'),
    created: z.number().int().describe('Unix seconds; 0 when the upstream does not say'),
    owned_by: z.string().describe("The stage's LLM provider serving the model"),
  })
  .meta({ id: 'Model' });

export const ModelList = z
  .object({ object: z.literal('list'), data: z.array(ModelResource) })
  .meta({ id: 'ModelList' });
export type ModelList = z.infer<typeof ModelList>;

/**
 * @example
 * listModels(tenant, settings); // { object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model', ... }] }
 */
export const listModels = (tenant: TenantRecord, settings: TenantSettings): ModelList => ({
  object: 'list',
  data: effectiveModels(tenant, settings).map((id) => ({
    id,
    object: 'model',
    created: 0,
    owned_by: settings.modelOwners?.[id] ?? 'system',
  })),
});
