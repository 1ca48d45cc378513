// Unit: the production LLM client without an upstream key (the offline `npm start`): openAiConnector finds
// no key, so the router answers through the rule-based provider, and says so.
import { describe, expect, it } from 'vitest';
import { openAiConnector } from '../../../functions/adapters/openai/openai-connector';
import { ModelCatalogue } from '../../../functions/core/llm/catalogue';
import { CircuitBreakerRegistry } from '../../../functions/core/llm/circuit-breaker';
import { ProviderRoutingLlmClient } from '../../../functions/core/llm/provider-router';
import { RULE_BASED_PROVIDER } from '../../../functions/core/llm/rule-based-provider';
import { request } from './fakes';

describe('openAiConnector', () => {
  it('is the rule-based provider, and says so, when no upstream key is set', async () => {
    const connect = openAiConnector({ resolve: async () => ({ apiKey: '' }) });
    const client = new ProviderRoutingLlmClient({
      catalogue: new ModelCatalogue({
        openai: { models: { 'gpt-4o-mini': { contextTokens: 128_000, maxOutputTokens: 16_000 } } },
      }),
      breakers: new CircuitBreakerRegistry(),
      connect,
    });

    const connected = await connect('openai');
    const answer = await client.complete(request('what can you do?'));

    expect(connected).toBeUndefined();
    expect(answer).toMatchObject({ provider: RULE_BASED_PROVIDER, degraded: true });
  });
});
