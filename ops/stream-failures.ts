/**
 * The stream publisher's failure bucket, for the dead-letter runbook: where it is (from the
 * synthesized template), what it holds, and replaying its records. Lambda writes there the
 * records it gave up on (payload included), and the publisher writes the ones it can never
 * publish; `lambda/stream-publisher/failure-record.ts` reads both. A replay turns each record
 * into the event the publisher would have published, with the publisher's own code, so its
 * eventId is the stream record's and consumers dedupe a second delivery.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  paginateListObjectsV2,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBRecord } from 'aws-lambda';
import type { CfnResource, CfnTemplate } from 'cdk-local-cloud';
import {
  type FailureObject,
  readFailureObject,
  UnreadableFailureObject,
} from '../lambda/stream-publisher/failure-record';
import { type Outgoing, publishInOrder } from '../lambda/stream-publisher/sns-publisher';
import { readStreamRecord } from '../lambda/stream-publisher/stream-record';
import { invokedFunctionId, referencedId } from '../lib/resource-names';
import type { ResourceLocator } from '../ops/stack-target';
import { consumerOf } from './dead-letters';

/** A failure bucket of the template, and what its records belong to. */
export interface StreamFailureBucket {
  /** The construct id that owns the mapping (`StreamPublisher`). */
  readonly consumer: string;
  readonly bucketLogicalId: string;
  /** The table whose stream the records came from. */
  readonly tableLogicalId: string;
  /** Where the function publishes (its `TOPIC_ARN`), and so where a replay does. */
  readonly topicLogicalId: string;
}

export interface LocatedStreamFailureBucket extends StreamFailureBucket {
  readonly bucket: string;
  readonly table: string;
  readonly topicArn: string;
}

/** Every stream mapping of `template` whose on-failure destination is an S3 bucket. */
export const findStreamFailureBuckets = (template: CfnTemplate): StreamFailureBucket[] => {
  const resources = template.Resources;
  const found: StreamFailureBucket[] = [];
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::Lambda::EventSourceMapping') continue;
    const p = (resource.Properties ?? {}) as {
      DestinationConfig?: { OnFailure?: { Destination?: unknown } };
      EventSourceArn?: unknown;
      FunctionName?: unknown;
    };
    const bucket = referencedId(p.DestinationConfig?.OnFailure?.Destination);
    const table = referencedId(p.EventSourceArn);
    // The publisher itself, or its `live` alias under canary deploys.
    const fn = invokedFunctionId(resources, p.FunctionName);
    if (
      !bucket ||
      resources[bucket]?.Type !== 'AWS::S3::Bucket' ||
      !table ||
      resources[table]?.Type !== 'AWS::DynamoDB::Table'
    ) {
      continue;
    }
    const variables = (
      resources[fn ?? '']?.Properties as { Environment?: { Variables?: Record<string, unknown> } }
    )?.Environment?.Variables;
    const topic = referencedId(variables?.TOPIC_ARN);
    if (!topic) throw new Error(`${id}: its function has no TOPIC_ARN to replay to`);
    found.push({
      consumer: consumerOf(bucket, resources[bucket] as CfnResource),
      bucketLogicalId: bucket,
      tableLogicalId: table,
      topicLogicalId: topic,
    });
  }
  return found;
};

export const locateFailureBuckets = async (
  buckets: readonly StreamFailureBucket[],
  locator: ResourceLocator,
): Promise<LocatedStreamFailureBucket[]> => {
  const ids = await locator.physicalIds();
  const physicalId = (logicalId: string): string => {
    const id = ids.get(logicalId);
    if (!id) throw new Error(`the stack has no resource ${logicalId}: is it the same template?`);
    return id;
  };
  return buckets.map((b) => ({
    ...b,
    bucket: physicalId(b.bucketLogicalId),
    table: physicalId(b.tableLogicalId),
    topicArn: physicalId(b.topicLogicalId),
  }));
};

export interface StoredFailure {
  readonly key: string;
  readonly size: number;
  readonly lastModified?: Date;
}

/** Every object of the bucket, oldest key first (Lambda's keys carry the date). */
export const listFailures = async (s3: S3Client, bucket: string): Promise<StoredFailure[]> => {
  const found: StoredFailure[] = [];
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket })) {
    for (const object of page.Contents ?? []) {
      if (object.Key) {
        found.push({ key: object.Key, size: object.Size ?? 0, lastModified: object.LastModified });
      }
    }
  }
  return found;
};

/** The object `key`, read; `versionId` is the version read, for deleting exactly it. */
export const readFailure = async (
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{ readonly failure: FailureObject; readonly versionId?: string }> => {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = (await object.Body?.transformToString()) ?? '';
  return { failure: readFailureObject(body), versionId: object.VersionId };
};

/** An object key, or `s3://<bucket>/<key>` of this bucket; anything else is refused. */
export const failureKeyOf = (argument: string, bucket: string): string => {
  if (!argument.startsWith('s3://')) return argument;
  const rest = argument.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const named = slash < 0 ? rest : rest.slice(0, slash);
  const key = slash < 0 ? '' : rest.slice(slash + 1);
  if (named !== bucket) {
    throw new Error(`${argument} is not in the failure bucket ${bucket}`);
  }
  if (key === '') throw new Error(`${argument} names no object`);
  return key;
};

/** What an operator needs of a record to find it: never an attribute value beyond its keys. */
export interface RecordSummary {
  readonly sequenceNumber: string;
  readonly eventName: string;
  readonly eventId: string;
  readonly keys: string;
}

export const summaryOf = (record: DynamoDBRecord): RecordSummary => {
  const keys = record.dynamodb?.Keys ?? {};
  return {
    sequenceNumber: record.dynamodb?.SequenceNumber ?? '?',
    eventName: record.eventName ?? '?',
    eventId: record.eventID ?? '?',
    keys: Object.entries(keys)
      .map(([name, value]) => `${name}=${value.S ?? value.N ?? '?'}`)
      .join(' '),
  };
};

/** A record a replay did not publish, and why; the reason never quotes an attribute value. */
export interface LeftRecord {
  readonly sequenceNumber: string;
  readonly reason: string;
}

export interface ReplayResult {
  readonly key: string;
  readonly published: number;
  /** Records the publisher skips anyway: not a profile, or a bookkeeping-only change. */
  readonly skipped: number;
  readonly unpublishable: readonly LeftRecord[];
  /** Too old to publish safely (README, Guarantees). */
  readonly refused: readonly LeftRecord[];
  /** Why the object could not be replayed at all, or a publish failed. */
  readonly error?: string;
  /** Deleted once every record was published or skipped; otherwise kept for another replay. */
  readonly deleted: boolean;
}

export interface ReplayOptions {
  /** Changes that happened longer ago than this are refused; `Infinity` publishes them all. */
  readonly maxAgeSeconds: number;
  readonly now?: () => Date;
}

const DAY_SECONDS = 86_400;
const days = (seconds: number) => `${Number((seconds / DAY_SECONDS).toFixed(1))} days`;

/**
 * Publishes the records of one object as the publisher would, in their order, then deletes
 * the version it read. It keeps the object when a record cannot be published (unreadable,
 * too old, or SNS refused it): what was published goes out again at the next replay, with the
 * same eventId.
 */
export const replayFailure = async (
  s3: S3Client,
  sns: SNSClient,
  located: LocatedStreamFailureBucket,
  key: string,
  { maxAgeSeconds, now = () => new Date() }: ReplayOptions,
): Promise<ReplayResult> => {
  const result = (fields: Partial<ReplayResult>): ReplayResult => ({
    key,
    published: 0,
    skipped: 0,
    unpublishable: [],
    refused: [],
    deleted: false,
    ...fields,
  });
  let read: Awaited<ReturnType<typeof readFailure>>;
  try {
    read = await readFailure(s3, located.bucket, key);
  } catch (error) {
    if (error instanceof UnreadableFailureObject) return result({ error: error.message });
    if ((error as Error).name === 'NoSuchKey') {
      return result({ error: 'no such object (replayed and deleted already?)' });
    }
    throw error;
  }
  const { records } = read.failure;
  if (records === undefined) {
    return result({
      error:
        'it holds the invocation record only, no payload: replay its stream range by hand ' +
        '(DDBStreamBatchInfo), while the stream still has it (24 hours)',
    });
  }
  const outgoing: Outgoing[] = [];
  const unpublishable: LeftRecord[] = [];
  const refused: LeftRecord[] = [];
  let skipped = 0;
  for (const [position, record] of records.entries()) {
    const sequenceNumber = record.dynamodb?.SequenceNumber ?? '?';
    const reading = readStreamRecord(record);
    if (reading.outcome === 'malformed') {
      unpublishable.push({ sequenceNumber, reason: reading.reason });
    } else if (reading.outcome === 'skip') {
      skipped += 1;
    } else {
      const { event } = reading;
      const ageSeconds = (now().getTime() - Date.parse(event.occurredAt)) / 1000;
      if (ageSeconds > maxAgeSeconds) {
        refused.push({
          sequenceNumber,
          reason:
            `${event.type} ${event.eventId} happened ${event.occurredAt}, ${days(ageSeconds)} ago: ` +
            `older than the ${days(maxAgeSeconds)} a replayed event may be`,
        });
      } else {
        outgoing.push({ position, event });
      }
    }
  }
  const { failure } = await publishInOrder(sns, located.topicArn, outgoing);
  const published = failure
    ? outgoing.filter(({ position }) => position < failure.position).length
    : outgoing.length;
  if (failure) {
    const at = records[failure.position]?.dynamodb?.SequenceNumber ?? '?';
    return result({
      published,
      skipped,
      unpublishable,
      refused,
      error: `publishing sequence ${at} failed: ${failure.reason}`,
    });
  }
  if (unpublishable.length > 0 || refused.length > 0) {
    return result({ published, skipped, unpublishable, refused });
  }
  await s3.send(
    new DeleteObjectCommand({ Bucket: located.bucket, Key: key, VersionId: read.versionId }),
  );
  return result({ published, skipped, deleted: true });
};
