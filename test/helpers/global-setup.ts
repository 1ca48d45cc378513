// Test helper: PLACEHOLDER global setup for the integration and e2e projects, so vitest can start them.
// The local-platform work replaces this file with the real one that starts the shared emulators;
// tests on this branch start their own DynamoDB Local through test/helpers/dynamodb-local.ts.
export default async function setup(): Promise<void> {}
