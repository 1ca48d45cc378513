// Infra tests: cdk-nag's AwsSolutions checks find nothing unacknowledged, and every acknowledgement says why.
import { Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configDirWith, type SynthesizedStage, synthStage } from '../helpers/cdk-synth';

// Every optional setting switched on, so resources that only exist with them (email subscription,
// CORS, a base URL, a second LLM provider's key secret) are checked too.
const everything = () =>
  configDirWith('acme', {
    tenancy: 'single',
    tenant: 'acme-corp',
    removalPolicy: 'retain',
    alarmEmail: 'ops@acme.example',
    corsOrigins: ['https://app.acme.example'],
    llm: {
      defaultModel: 'm1',
      providers: {
        acme: { baseUrl: 'https://llm.acme.example/v1', models: { m1: {} } },
        'mistral-eu': { baseUrl: 'https://api.mistral.ai/v1', models: { 'mistral-small-latest': {} } },
      },
    },
  });

const stages: [string, () => SynthesizedStage][] = [
  ['acme (defaults)', () => synthStage('acme')],
  ['prod (config/stages/prod.json)', () => synthStage('prod')],
  ['acme (every option set)', () => synthStage('acme', everything())],
];

describe.each(stages)('%s', (_label, synth) => {
  let stage: SynthesizedStage;
  beforeAll(() => {
    // synth() itself throws when a validation plugin reports a violation.
    stage = synth();
  });
  afterAll(() => stage?.dispose());

  it('leaves no AwsSolutions finding unacknowledged, errors and warnings alike', () => {
    const report = new AwsSolutionsChecks().validateScope(stage.built.app);
    const findings = report.violations.map(
      (violation) =>
        `${violation.ruleName}: ${violation.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('leaves no CDK warning or error annotation on either stack', () => {
    for (const stack of [stage.built.dataStack, stage.built.apiStack]) {
      const annotations = Annotations.fromStack(stack);
      const messages = [
        ...annotations.findWarning('*', Match.anyValue()),
        ...annotations.findError('*', Match.anyValue()),
      ].map((annotation) => `${annotation.id}: ${String(annotation.entry.data)}`);
      expect(messages).toEqual([]);
    }
  });

  it('gives every acknowledgement a reason', () => {
    const acknowledgements = stage.built.app.node
      .findAll()
      .flatMap((construct) =>
        construct.node.metadata
          .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          .flatMap((entry) => Object.entries(entry.data as Record<string, string>)),
      )
      .filter(([id]) => id.includes('AwsSolutions'));
    expect(acknowledgements.length).toBeGreaterThan(0);
    for (const [id, reason] of acknowledgements) {
      expect(reason.split(/\s+/).length, id).toBeGreaterThanOrEqual(8);
    }
  });
});

describe('cdk-nag is wired into every synth', () => {
  it('fails the synth on an unacknowledged finding', async () => {
    const { buildApp } = await import('../../lib/app');
    const { Queue } = await import('aws-cdk-lib/aws-sqs');
    const built = buildApp({ stage: 'acme', context: { 'aws:cdk:bundling-stacks': [] } });
    // A queue without a DLQ or TLS policy: AwsSolutions-SQS3/SQS4.
    new Queue(built.dataStack, 'Unchecked');
    expect(() => built.app.synth()).toThrow(/SQS/);
  });
});
