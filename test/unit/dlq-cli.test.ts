// Unit: the dlq CLI's arguments, and its cloud calls (StartMessageMoveTask, ListMessageMoveTasks) with
// aws-sdk-client-mock.
import { ListMessageMoveTasksCommand, SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { listCloudRedrives, queueUrlOfArn, startCloudRedrive } from '../../local/dead-letters';
import { parseDlqArguments, UsageError } from '../../local/dlq';

const DLQ_ARN = 'arn:aws:sqs:eu-west-1:123456789012:Tenantic-acme-Data-ChatRunsQueueDlq1A2B3C';
const SOURCE_ARN = 'arn:aws:sqs:eu-west-1:123456789012:Tenantic-acme-Data-ChatRunsQueue4D5E6F';

describe('dlq arguments', () => {
  it('reads a local list and a bounded local redrive', () => {
    expect(parseDlqArguments(['list', 'chat-runs'])).toEqual({ command: 'list', queue: 'chat-runs' });
    expect(parseDlqArguments(['redrive', 'tool-jobs', '--max', '10'])).toEqual({
      command: 'redrive',
      queue: 'tool-jobs',
      max: 10,
    });
    expect(parseDlqArguments(['redrive', 'tool-jobs', '--max=3']).max).toBe(3);
  });

  it('reads a cloud redrive from the two ARNs, with an optional rate', () => {
    expect(
      parseDlqArguments([
        'redrive',
        'chat-runs',
        '--dlq-arn',
        DLQ_ARN,
        '--source-arn',
        SOURCE_ARN,
        '--rate',
        '5',
      ]),
    ).toEqual({ command: 'redrive', queue: 'chat-runs', dlqArn: DLQ_ARN, sourceArn: SOURCE_ARN, rate: 5 });
  });

  it.each([
    [[]],
    [['purge', 'chat-runs']],
    [['list', 'other-queue']],
    [['list', 'chat-runs', 'extra']],
    [['redrive', 'chat-runs', '--max', '0']],
    [['redrive', 'chat-runs', '--max', 'many']],
    [['redrive', 'chat-runs', '--force']],
    [['redrive', 'chat-runs', '--dlq-arn', DLQ_ARN]],
    [['redrive', 'chat-runs', '--dlq-arn', DLQ_ARN, '--source-arn', SOURCE_ARN, '--max', '2']],
    [['list', 'chat-runs', '--source-arn', SOURCE_ARN]],
  ])('refuses %j with a usage error', (argv) => {
    expect(() => parseDlqArguments(argv)).toThrow(UsageError);
  });
});

describe('cloud redrive', () => {
  const sqsMock = mockClient(SQSClient);
  afterEach(() => sqsMock.reset());

  it('starts a message move task from the DLQ to its source queue', async () => {
    sqsMock.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'handle-1' });

    const handle = await startCloudRedrive(new SQSClient({ region: 'eu-west-1' }), {
      dlqArn: DLQ_ARN,
      sourceArn: SOURCE_ARN,
      maxPerSecond: 5,
    });

    expect(handle).toBe('handle-1');
    expect(sqsMock.commandCalls(StartMessageMoveTaskCommand)[0]?.args[0].input).toEqual({
      SourceArn: DLQ_ARN,
      DestinationArn: SOURCE_ARN,
      MaxNumberOfMessagesPerSecond: 5,
    });
  });

  it('lists the move tasks of the DLQ', async () => {
    sqsMock
      .on(ListMessageMoveTasksCommand)
      .resolves({ Results: [{ Status: 'RUNNING', SourceArn: DLQ_ARN }] });

    const tasks = await listCloudRedrives(new SQSClient({ region: 'eu-west-1' }), DLQ_ARN);

    expect(tasks).toEqual([{ Status: 'RUNNING', SourceArn: DLQ_ARN }]);
    expect(sqsMock.commandCalls(ListMessageMoveTasksCommand)[0]?.args[0].input).toMatchObject({
      SourceArn: DLQ_ARN,
    });
  });

  it('derives the queue URL from its ARN, and refuses what is not an SQS ARN', () => {
    expect(queueUrlOfArn(DLQ_ARN)).toBe(
      'https://sqs.eu-west-1.amazonaws.com/123456789012/Tenantic-acme-Data-ChatRunsQueueDlq1A2B3C',
    );
    expect(() => queueUrlOfArn('arn:aws:sns:eu-west-1:123456789012:topic')).toThrow(/not an SQS queue ARN/);
  });
});
