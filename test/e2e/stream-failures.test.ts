import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { callApi, control } from 'cdk-local-cloud';
import { invokedFunctionId } from '../../lib/resource-names';
import { sinkCalls } from '../../local/notification-sink';
import {
  connect,
  eventually,
  type LocalCloud,
  newCustomerInput,
  ownCloud,
  resourceNamed,
  runDlq,
  templateOf,
  welcomeCallsFor,
} from './local-cloud';

/**
 * The stream's failure path, with the topic unreachable for the publisher, which retries
 * until the record age (the suite's assembly: Lambda's shortest, 60 s), here shrunk to 9 s
 * (`--record-age-scale`). On a cloud of its own, so nothing else is on its stream. Its
 * welcome consumer calls the suite's notification sink, which is where its welcomes are
 * looked for.
 */
jest.setTimeout(240_000);

/** 60 s × 0.15 = 9 s: long enough for several retries, short enough for the suite. */
const RECORD_AGE_SCALE = '0.15';
const started = ownCloud('stream', { recordAgeScale: RECORD_AGE_SCALE });
let main: LocalCloud;
let cloud: LocalCloud;
beforeAll(() => {
  main = connect();
  cloud = started();
});

describe('the stream’s failure path', () => {
  test('the topic unreachable while the publisher runs: retried until the record age, kept whole in the failure bucket, replayed once', async () => {
    const publisher = resourceNamed(cloud, 'stream-publisher', 'function');
    // The stream's mapping: the one that invokes the publisher.
    const mapping = Object.values(cloud.state.resources).find(
      (r) =>
        r.type === 'AWS::Lambda::EventSourceMapping' &&
        invokedFunctionId(
          templateOf(cloud).Resources,
          templateOf(cloud).Resources[r.logicalId]?.Properties?.FunctionName,
        ) === publisher.logicalId,
    );
    if (mapping === undefined) throw new Error('no event source mapping invokes the publisher');
    const failures = resourceNamed(cloud, 'stream-publisher', 'failure-bucket').ref;
    const storedKeys = async () =>
      ((await cloud.s3.send(new ListObjectsV2Command({ Bucket: failures }))).Contents ?? []).map(
        (object) => object.Key ?? '',
      );
    await control(cloud, 'POST', '/faults', {
      caller: publisher.logicalId,
      service: 'sns',
      mode: 'unreachable',
    });
    let lost: { id: string };
    let keys: string[];
    try {
      const created = await callApi(cloud, 'POST', '/customers', newCustomerInput());
      expect(created.status).toBe(201);
      lost = created.body as { id: string };
      // The suite's record age is 60 s (global setup), shrunk to 9 s, not the stage's 12 h.
      keys = await eventually('the on-failure object', storedKeys, (k) => k.length >= 1, 150_000);
    } finally {
      await control(cloud, 'DELETE', '/faults');
    }
    // Only this customer's record was in flight: one record given up on, in one object.
    expect(keys).toHaveLength(1);
    const [key = ''] = keys;
    expect(key).toMatch(new RegExp(`^aws/lambda/${mapping.ref}/[^/]+/\\d{4}/\\d{2}/\\d{2}/`));
    const object = await cloud.s3.send(new GetObjectCommand({ Bucket: failures, Key: key }));
    const record = JSON.parse((await object.Body?.transformToString()) ?? '{}');
    // Retried without a count until the record was too old, not given up on after five.
    expect(record.requestContext.condition).toBe('RecordAgeExceeded');
    expect(record.requestContext.approximateInvokeCount).toBeGreaterThan(6);
    expect(record.DDBStreamBatchInfo).toMatchObject({
      batchSize: 1,
      streamArn: expect.any(String),
    });
    // The record itself, not only where it was in the stream.
    const [stored] = JSON.parse(record.payload).Records;
    expect(stored.dynamodb.Keys.pk.S).toBe(`CUSTOMER#${lost.id}`);
    expect(welcomeCallsFor(await sinkCalls(main), lost.id)).toHaveLength(0);

    // The stream moves on: the next customer is published again.
    const next = await callApi(cloud, 'POST', '/customers', newCustomerInput());
    const nextId = (next.body as { id: string }).id;
    await eventually(
      'the next welcome',
      async () => welcomeCallsFor(await sinkCalls(main), nextId),
      (c) => c.length === 1,
    );

    // The runbook: replay the object; the event keeps the stream record's id.
    expect(await runDlq(cloud, 'replay', key)).toMatchObject({
      code: 0,
      output: expect.stringContaining(`${key}: published 1, skipped 0; deleted`),
    });
    const [welcome] = await eventually(
      'the replayed welcome',
      async () => welcomeCallsFor(await sinkCalls(main), lost.id),
      (c) => c.length === 1,
    );
    expect(welcome?.idempotencyKey).toBe(stored.eventID);
    expect(await storedKeys()).toEqual([]);
    // Replayed once: a second replay finds nothing, and nothing is sent twice.
    expect((await runDlq(cloud, 'replay', key)).code).toBe(1);
    expect(welcomeCallsFor(await sinkCalls(main), lost.id)).toHaveLength(1);
  });
});
