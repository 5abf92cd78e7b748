import type { Template } from 'aws-cdk-lib/assertions';
import { CustomerEvents } from '../../lib/constructs/customer-events';
import { CustomerTable } from '../../lib/constructs/customer-table';
import { StreamPublisher } from '../../lib/constructs/stream-publisher';
import { synthPipeline } from '../synth';
import {
  constructsOfType,
  eventSourceMappingsOf,
  getAtt,
  logicalIdOf,
  ref,
  resourceById,
} from '../template-queries';

describe('StreamPublisher', () => {
  let template: Template;
  let mapping: Record<string, unknown>;
  let ids: { table: string; topic: string; function: string; failureQueue: string };
  beforeAll(() => {
    const synthesized = synthPipeline('dev');
    template = synthesized.template;
    const { stack } = synthesized;
    const [table] = constructsOfType(stack, CustomerTable);
    const [events] = constructsOfType(stack, CustomerEvents);
    const [publisher, ...others] = constructsOfType(stack, StreamPublisher);
    if (!table || !events || !publisher || others.length > 0) {
      throw new Error('expected one table, one topic and one stream publisher');
    }
    ids = {
      table: logicalIdOf(stack, table.table),
      topic: logicalIdOf(stack, events.topic),
      function: logicalIdOf(stack, publisher.function),
      failureQueue: logicalIdOf(stack, publisher.failureQueue),
    };
    const [only, ...more] = eventSourceMappingsOf(template, ids.function);
    if (!only || more.length > 0) throw new Error('expected one event source mapping');
    mapping = only.Properties;
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

  test('gives up on a record after 5 retries or 6 hours, never retrying forever', () => {
    expect(mapping.MaximumRetryAttempts).toBe(5);
    expect(mapping.MaximumRecordAgeInSeconds).toBe(21600);
  });

  test('sends the records it gives up on to its failure queue', () => {
    expect(mapping.DestinationConfig).toEqual({
      OnFailure: { Destination: getAtt(ids.failureQueue, 'Arn') },
    });
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
});
