// Test helper: the plans every test stage offers.
export const PLANS = {
  free: {
    requests_per_minute: 60,
    tokens_per_month: 100_000,
    storage_bytes: 10_000_000,
    concurrent_connections: 2,
    concurrent_runs: 3,
    tool_invocations_per_day: 100,
    max_steps_per_run: 5,
  },
  pro: {
    requests_per_minute: 600,
    tokens_per_month: 10_000_000,
    storage_bytes: 1_000_000_000,
    concurrent_connections: 20,
    concurrent_runs: 20,
    tool_invocations_per_day: 10_000,
    max_steps_per_run: 20,
  },
};
