import type { Template } from 'aws-cdk-lib/assertions';
import { AssetsBucket } from '../../lib/constructs/assets-bucket';
import { CustomerEvents } from '../../lib/constructs/customer-events';
import { CustomerTable } from '../../lib/constructs/customer-table';
import { StreamPublisher } from '../../lib/constructs/stream-publisher';
import { synthPipeline } from '../synth';
import {
  bucketPolicyStatements,
  constructsOfType,
  denyWithoutTls,
  eventSourceMappingsOf,
  getAtt,
  logicalIdOf,
  ref,
  referencedId,
  resourceById,
  resourcesOfType,
} from '../template-queries';

/** The properties of the publisher's one event source mapping in `template`. */
const mappingOf = (synthesized: ReturnType<typeof synthPipeline>): Record<string, unknown> => {
  const [publisher] = constructsOfType(synthesized.stack, StreamPublisher);
  if (!publisher) throw new Error('expected the stream publisher');
  const functionId = logicalIdOf(synthesized.stack, publisher.function);
  const [only, ...more] = eventSourceMappingsOf(synthesized.template, functionId);
  if (!only || more.length > 0) throw new Error('expected one event source mapping');
  return only.Properties;
};

describe('StreamPublisher', () => {
  let template: Template;
  let mapping: Record<string, unknown>;
  let ids: {
    table: string;
    topic: string;
    function: string;
    failureBucket: string;
    accessLogs: string;
  };
  beforeAll(() => {
    const synthesized = synthPipeline('dev');
    template = synthesized.template;
    const { stack } = synthesized;
    const [table] = constructsOfType(stack, CustomerTable);
    const [events] = constructsOfType(stack, CustomerEvents);
    const [assets] = constructsOfType(stack, AssetsBucket);
    const [publisher, ...others] = constructsOfType(stack, StreamPublisher);
    if (!table || !events || !assets || !publisher || others.length > 0) {
      throw new Error('expected one table, one topic and one stream publisher');
    }
    ids = {
      table: logicalIdOf(stack, table.table),
      topic: logicalIdOf(stack, events.topic),
      function: logicalIdOf(stack, publisher.function),
      failureBucket: logicalIdOf(stack, publisher.failureBucket),
      accessLogs: logicalIdOf(stack, assets.accessLogsBucket),
    };
    mapping = mappingOf(synthesized);
  });

  test("reads the table's stream from the oldest record", () => {
    expect(mapping).toEqual(
      expect.objectContaining({
        EventSourceArn: getAtt(ids.table, 'StreamArn'),
        StartingPosition: 'TRIM_HORIZON',
      }),
    );
  });

  test('splits a failing batch to isolate the bad record', () => {
    expect(mapping.BisectBatchOnFunctionError).toBe(true);
  });

  test('retries a failing record until it is 12 hours old, however many attempts that takes', () => {
    expect(mapping.MaximumRetryAttempts).toBe(-1);
    expect(mapping.MaximumRecordAgeInSeconds).toBe(12 * 60 * 60);
  });

  test('takes the record age from -c streamMaxRecordAgeSeconds', () => {
    const short = mappingOf(synthPipeline('dev', { context: { streamMaxRecordAgeSeconds: '60' } }));
    expect(short.MaximumRecordAgeInSeconds).toBe(60);
    expect(short.MaximumRetryAttempts).toBe(-1);
  });

  test('sends the records it gives up on to its failure bucket, which keeps them whole', () => {
    expect(mapping.DestinationConfig).toEqual({
      OnFailure: { Destination: getAtt(ids.failureBucket, 'Arn') },
    });
  });

  test('is told the failure bucket by name, to write the records it can never publish', () => {
    const { Environment } = resourceById(template, ids.function).Properties as {
      Environment: { Variables: Record<string, unknown> };
    };
    expect(Environment.Variables.FAILURE_BUCKET_NAME).toEqual(ref(ids.failureBucket));
  });

  test('reports partial batch failures', () => {
    expect(mapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
  });

  test('receives only changes of profile items (sk = PROFILE)', () => {
    const { Filters } = mapping.FilterCriteria as { Filters: { Pattern: string }[] };
    expect(Filters).toHaveLength(1);
    expect(JSON.parse(Filters[0]?.Pattern ?? 'null')).toEqual({
      dynamodb: { Keys: { sk: { S: ['PROFILE'] } } },
    });
  });

  test('is told the events topic by its ARN', () => {
    const { Environment } = resourceById(template, ids.function).Properties as {
      Environment: { Variables: Record<string, unknown> };
    };
    expect(Environment.Variables.TOPIC_ARN).toEqual(ref(ids.topic));
  });

  describe('the failure bucket', () => {
    const bucket = () => resourceById(template, ids.failureBucket).Properties;

    test('keeps every version: a replay deletes an object only once it is published', () => {
      expect(bucket().VersioningConfiguration).toEqual({ Status: 'Enabled' });
    });

    test('never expires a current object, and drops replayed (noncurrent) ones after 7 days', () => {
      const { Rules } = bucket().LifecycleConfiguration as { Rules: Record<string, unknown>[] };
      expect(
        Rules.filter((rule) => 'ExpirationInDays' in rule || 'ExpirationDate' in rule),
      ).toEqual([]);
      expect(Rules).toContainEqual(
        expect.objectContaining({
          Status: 'Enabled',
          NoncurrentVersionExpiration: { NoncurrentDays: 7 },
        }),
      );
    });

    test('blocks every kind of public access', () => {
      expect(bucket().PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
    });

    test('is encrypted with S3-managed keys', () => {
      expect(bucket().BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
        ],
      });
    });

    test('refuses every request that does not use TLS', () => {
      expect(
        denyWithoutTls(bucketPolicyStatements(template, ids.failureBucket), 's3:*'),
      ).toHaveLength(1);
    });

    test('writes server access logs to the access-logs bucket, under its own prefix', () => {
      expect(bucket().LoggingConfiguration).toEqual({
        DestinationBucketName: ref(ids.accessLogs),
        LogFilePrefix: 'stream-failures/',
      });
    });

    test('counts the objects written to it, for the alarm', () => {
      expect(bucket().MetricsConfigurations).toEqual([{ Id: 'Writes' }]);
    });

    test.each([
      ['dev', 'Delete', 1],
      ['prod', 'Retain', 0],
    ] as const)('in %s: %s with the stack', (stage, removal, autoDeletes) => {
      const synthesized = synthPipeline(stage);
      const [publisher] = constructsOfType(synthesized.stack, StreamPublisher);
      if (!publisher) throw new Error('expected the stream publisher');
      const bucketId = logicalIdOf(synthesized.stack, publisher.failureBucket);
      expect(resourceById(synthesized.template, bucketId).DeletionPolicy).toBe(removal);
      expect(
        Object.values(resourcesOfType(synthesized.template, 'Custom::S3AutoDeleteObjects')).filter(
          (r) => referencedId(r.Properties.BucketName) === bucketId,
        ),
      ).toHaveLength(autoDeletes);
    });
  });
});
