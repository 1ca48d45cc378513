import { describe, expect, it } from 'vitest';
import { createLlmClient } from '../../../functions/adapters/openai/create-llm-client';
import { RULE_BASED_PROVIDER } from '../../../functions/core/llm/rule-based-provider';
import { request } from './fakes';

describe('createLlmClient', () => {
  it('is the rule-based provider, and says so, when no upstream key is set', async () => {
    const { client, mode } = createLlmClient({ apiKey: '' });

    const answer = await client.complete(request('what can you do?'));

    expect(mode).toBe('rule-based');
    expect(answer).toMatchObject({ provider: RULE_BASED_PROVIDER, degraded: true });
  });
});
