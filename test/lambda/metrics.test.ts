import type { Logger } from '@aws-lambda-powertools/logger';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { MalformedNotification } from '../../lambda/avatar/upload-notification';
import { BusinessMetrics, failureReason } from '../../lambda/shared/adapters/metrics';
import { MalformedMessage } from '../../lambda/shared/adapters/sqs-batch';
import { METRICS } from '../../lambda/shared/contract';
import { TemporarilyUnavailable } from '../../lambda/shared/domain/errors';
import { WelcomeInFlight } from '../../lambda/welcome/claim';
import {
  NotificationFailed,
  NotificationInterrupted,
  NotificationTimedOut,
} from '../../lambda/welcome/notifier';
import { captureEmf, FUNCTION_VERSION, metricsEnvironment, NAMESPACE } from './emf';

metricsEnvironment('welcome');
const emf = captureEmf();

const logger = () => ({ debug: jest.fn(), info: jest.fn(), warn: jest.fn(), error: jest.fn() });

describe('BusinessMetrics.publish', () => {
  test('writes nothing, and warns of nothing, when nothing was counted', () => {
    const log = logger();
    new BusinessMetrics({ logger: log }).publish();

    expect(jest.mocked(process.stdout.write)).not.toHaveBeenCalled();
    expect(log.warn).not.toHaveBeenCalled();
  });

  test('one line of the plain metrics with [service] only, one of the canary metrics with [service] and [service, FunctionVersion], one per failure reason', () => {
    const metrics = new BusinessMetrics({ logger: logger() });
    metrics.count(METRICS.welcomesSent);
    metrics.count(METRICS.welcomesSent);
    metrics.count(METRICS.recordsReceived, 4);
    metrics.recordsFailed('Busy');
    metrics.recordsFailed('Malformed', 2);
    metrics.publish();

    expect(emf.series()).toEqual([
      'RecordsFailed{service=welcome,FunctionVersion=7} 3 Count',
      'RecordsFailed{service=welcome,reason=Busy} 1 Count',
      'RecordsFailed{service=welcome,reason=Malformed} 2 Count',
      'RecordsFailed{service=welcome} 3 Count',
      'RecordsReceived{service=welcome,FunctionVersion=7} 4 Count',
      'RecordsReceived{service=welcome} 4 Count',
      'WelcomesSent{service=welcome} 2 Count',
    ]);
    const [plain, canary, busy] = emf.documents();
    expect(plain).toEqual({
      _aws: {
        Timestamp: expect.any(Number),
        CloudWatchMetrics: [
          {
            Namespace: NAMESPACE,
            Dimensions: [['service']],
            Metrics: [{ Name: 'WelcomesSent', Unit: 'Count' }],
          },
        ],
      },
      service: 'welcome',
      WelcomesSent: 2,
    });
    expect(canary?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([
      ['service'],
      ['service', 'FunctionVersion'],
    ]);
    expect(canary).toMatchObject({ FunctionVersion: FUNCTION_VERSION, RecordsReceived: 4 });
    expect(busy).toMatchObject({ reason: 'Busy', RecordsFailed: 1 });
    expect(busy).not.toHaveProperty('FunctionVersion');
  });

  test('forgets what it published: the next invocation starts from nothing', () => {
    const metrics = new BusinessMetrics({ logger: logger() });
    metrics.count(METRICS.answers2xx);
    metrics.publish();
    metrics.answered(404);
    metrics.publish();
    metrics.publish();

    expect(emf.documents()).toHaveLength(2);
    expect(emf.documents()[1]).toMatchObject({ Answers4xx: 1 });
    expect(emf.documents()[1]).not.toHaveProperty('Answers2xx');
  });

  test('reads the version each time it publishes', () => {
    const metrics = new BusinessMetrics({ logger: logger(), functionVersion: () => '12' });
    metrics.answered(503);
    metrics.publish();

    expect(emf.series()).toEqual([
      'Answers5xx{service=welcome,FunctionVersion=12} 1 Count',
      'Answers5xx{service=welcome} 1 Count',
    ]);
  });

  test('never throws: a failure to write is logged as a warning, and forgotten', () => {
    const log = logger();
    let failNext = true;
    const metrics = new BusinessMetrics({
      logger: log,
      write: (document) => {
        if (failNext) {
          failNext = false;
          throw new Error('EPIPE');
        }
        process.stdout.write(`${document}\n`);
      },
    });
    metrics.count(METRICS.welcomesSent);

    expect(() => metrics.publish()).not.toThrow();
    expect(log.warn).toHaveBeenCalledWith('business metrics not published', {
      error: expect.any(Error),
    });
    metrics.count(METRICS.welcomesSkippedDeleted);
    metrics.publish();
    expect(emf.series()).toEqual(['WelcomesSkippedDeleted{service=welcome} 1 Count']);
  });

  test('publishing(handler) publishes when the handler returns and when it throws', async () => {
    const metrics = new BusinessMetrics({ logger: logger() as unknown as Logger });
    const handler = metrics.publishing(async (fail: boolean) => {
      metrics.count(METRICS.archiveVersionsWritten);
      if (fail) throw new Error('boom');
      return 'done';
    });

    await expect(handler(false)).resolves.toBe('done');
    await expect(handler(true)).rejects.toThrow('boom');
    expect(emf.series()).toEqual([
      'ArchiveVersionsWritten{service=welcome} 1 Count',
      'ArchiveVersionsWritten{service=welcome} 1 Count',
    ]);
  });

  test('answers by status class', () => {
    const metrics = new BusinessMetrics({ logger: logger() });
    for (const status of [200, 201, 204, 302, 400, 404, 412, 500, 503]) metrics.answered(status);
    metrics.publish();

    expect(emf.documents()[0]).toMatchObject({
      Answers2xx: 3,
      Answers3xx: 1,
      Answers4xx: 3,
      Answers5xx: 2,
    });
  });
});

const awsError = (name: string, fault: 'client' | 'server', extra: object = {}) =>
  Object.assign(new Error(name), { name, $fault: fault, $metadata: {}, ...extra });

describe('failureReason', () => {
  test.each([
    [
      'a message that is not a customer event',
      new MalformedMessage('m-1', 'not JSON'),
      'Malformed',
    ],
    ['a message that is not S3’s notification', new MalformedNotification('m-1', 'x'), 'Malformed'],
    ['a DynamoDB throttle', awsError('ProvisionedThroughputExceededException', 'client'), 'Busy'],
    ['a conflicting transaction', awsError('TransactionConflictException', 'client'), 'Busy'],
    [
      'a transaction cancelled by a conflict',
      new TransactionCanceledException({
        message: 'cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }],
      }),
      'Busy',
    ],
    ['S3 slowing down', awsError('SlowDown', 'server'), 'Busy'],
    ['SNS throttling', awsError('Throttling', 'client'), 'Busy'],
    [
      'a throttled entry of a PublishBatch',
      { name: 'ThrottledException', $fault: 'client' },
      'Busy',
    ],
    ['Secrets Manager throttling', awsError('ThrottlingException', 'client'), 'Busy'],
    ['too many requests', awsError('TooManyRequestsException', 'client'), 'Busy'],
    ['a conditional S3 write that lost a race', awsError('PreconditionFailed', 'client'), 'Busy'],
    ['the store busy through the retries', new TemporarilyUnavailable(1), 'Busy'],
    [
      'the store failing through the retries',
      new TemporarilyUnavailable(1, { cause: awsError('InternalServerError', 'server') }),
      'Unavailable',
    ],
    ['a 5xx from AWS', awsError('InternalError', 'server'), 'Unavailable'],
    [
      'a refused connection',
      Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
      'Unavailable',
    ],
    ['the SDK timing out', Object.assign(new Error('t'), { name: 'TimeoutError' }), 'Unavailable'],
    ['the provider answering 503', new NotificationFailed(503), 'Unavailable'],
    ['the provider answering 429', new NotificationFailed(429), 'Busy'],
    ['the provider timing out', new NotificationTimedOut(5000), 'Unavailable'],
    ['the provider hanging up mid-answer', new NotificationInterrupted(), 'Unavailable'],
    [
      'a wrapped throttle (Powertools’ GetParameterError)',
      Object.assign(new Error('x'), {
        name: 'GetParameterError',
        cause: awsError('ThrottlingException', 'client'),
      }),
      'Busy',
    ],
    ['another attempt holding the welcome', new WelcomeInFlight('c-1'), 'InFlight'],
    ['the provider refusing the key (401)', new NotificationFailed(401), 'Unexpected'],
    ['access denied', awsError('AccessDenied', 'client'), 'Unexpected'],
    [
      'a false condition no one handled',
      awsError('ConditionalCheckFailedException', 'client'),
      'Unexpected',
    ],
    ['a bug', new TypeError('x is undefined'), 'Unexpected'],
    ['not an error at all', 'a string', 'Unexpected'],
  ])('%s', (_, error, reason) => {
    expect(failureReason(error)).toBe(reason);
  });
});
