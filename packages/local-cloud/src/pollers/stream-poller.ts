import {
  type _Record,
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import { type EventPattern, matchesAnyPattern } from '../event-filter';
import type { InvokeOutcome, LambdaInvoker } from '../model';
import { sleep } from '../net';

/** A DynamoDB stream event source mapping's settings, resolved from the template. */
export interface StreamMappingSettings {
  readonly streamArn: string;
  readonly functionArn: string;
  /** The mapping's UUID (its `Ref`): S3 on-failure objects are filed under it. */
  readonly mappingId: string;
  readonly region: string;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  readonly batchSize: number;
  /** Already time-scaled. */
  readonly maximumBatchingWindowSeconds: number;
  readonly bisectBatchOnFunctionError: boolean;
  /** -1: retry until the record expires. */
  readonly maximumRetryAttempts: number;
  /** -1: records never expire. */
  readonly maximumRecordAgeSeconds: number;
  readonly reportBatchItemFailures: boolean;
  readonly filters: readonly EventPattern[];
  /**
   * Where records given up on go, with the ARN it was given as: an SQS queue (its URL), an S3
   * bucket (its name) or else an SNS topic.
   */
  readonly onFailure?: {
    readonly arn: string;
    readonly queueUrl?: string;
    readonly bucket?: string;
  };
  /** Delay before the first retry; doubles each time, capped at 30 times it. Already time-scaled. */
  readonly retryBaseDelayMs: number;
}

export interface StreamPollerEvents {
  /** A batch was invoked: how it went, and which attempt it was. */
  readonly onInvoke?: (info: {
    records: number;
    attempt: number;
    outcome: InvokeOutcome;
    durationMs: number;
  }) => void;
  /** Records were given up on and sent to the on-failure destination. */
  readonly onDiscard?: (info: { records: number; condition: string; destination?: string }) => void;
  readonly onError?: (error: unknown) => void;
}

export interface StreamPollerOptions extends StreamPollerEvents {
  readonly streams: DynamoDBStreamsClient;
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  /** For an S3 on-failure destination. */
  readonly s3?: S3Client;
  readonly target: LambdaInvoker;
  readonly settings: StreamMappingSettings;
}

const toEpochSeconds = (value: unknown): number => {
  if (value instanceof Date) return Math.floor(value.getTime() / 1000);
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return Math.floor(Date.parse(value) / 1000);
  return Math.floor(Date.now() / 1000);
};

/**
 * The record as Lambda delivers it. moto's records lack `eventSourceARN` and give
 * `ApproximateCreationDateTime` as a date; Lambda sends epoch seconds.
 */
export const toLambdaStreamRecord = (
  record: _Record,
  streamArn: string,
  region: string,
): DynamoDBRecord => {
  const data = record.dynamodb ?? {};
  return {
    eventID: record.eventID,
    eventName: record.eventName as DynamoDBRecord['eventName'],
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    eventSourceARN: streamArn,
    dynamodb: {
      ...(data as DynamoDBRecord['dynamodb']),
      ApproximateCreationDateTime: toEpochSeconds(data.ApproximateCreationDateTime),
    },
  };
};

const sequenceNumber = (record: DynamoDBRecord): string => record.dynamodb?.SequenceNumber ?? '';

/** Stream sequence numbers are decimal strings of varying length: compare as numbers. */
const bySequence = (a: string, b: string): number =>
  a.length === b.length ? a.localeCompare(b) : a.length - b.length;

/**
 * Where Lambda files an S3 on-failure record of a stream mapping:
 * `aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>`.
 */
export const s3FailureKey = (mappingId: string, shardId: string, at: Date): string => {
  const [date = '', time = ''] = at.toISOString().split('T');
  const [year, month, day] = date.split('-');
  const clock = time.slice(0, 8).replaceAll(':', '.');
  return `aws/lambda/${mappingId}/${shardId}/${year}/${month}/${day}/${date}T${clock}-${crypto.randomUUID()}`;
};

type BatchResult =
  | { readonly kind: 'done' }
  | { readonly kind: 'retry-from'; readonly index: number };

/**
 * Where an invocation leaves a batch: done, or to be retried from a record. With
 * ReportBatchItemFailures Lambda resumes at the lowest reported sequence number;
 * an invalid report (or an error) means the whole batch.
 */
export const batchResult = (
  outcome: InvokeOutcome,
  batch: readonly DynamoDBRecord[],
  reportBatchItemFailures: boolean,
): BatchResult => {
  if (!outcome.ok) return { kind: 'retry-from', index: 0 };
  if (!reportBatchItemFailures) return { kind: 'done' };
  const failures = (outcome.payload as { batchItemFailures?: unknown } | null)?.batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'done' };
  if (!Array.isArray(failures)) return { kind: 'retry-from', index: 0 };
  if (failures.length === 0) return { kind: 'done' };
  const sequences = batch.map(sequenceNumber);
  let lowest: number | undefined;
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    const index = typeof id === 'string' ? sequences.indexOf(id) : -1;
    if (index < 0) return { kind: 'retry-from', index: 0 };
    lowest = lowest === undefined ? index : Math.min(lowest, index);
  }
  return { kind: 'retry-from', index: lowest ?? 0 };
};

/**
 * Drives a function from a DynamoDB stream the way Lambda's event source mapping
 * does: in order per shard, filtered by the mapping's criteria, batched within the
 * window; a failing batch is bisected (on function errors) and retried with
 * backoff up to the retry limit, records too old are not retried, and what is
 * given up goes to the on-failure destination as Lambda's invocation record (to an S3
 * bucket, with the records themselves as its payload).
 */
/** A reader's place on a shard. */
interface ShardCursor {
  iterator?: string;
  /** The sequence number of the last record read. */
  after?: string;
  closed?: boolean;
}

export class StreamPoller {
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(private options: StreamPollerOptions) {}

  /**
   * Settings from the next batch on (watch mode applies a changed mapping so): what is in
   * flight finishes as it began, and the position in each shard stays. The source and the
   * number of poll loops are the ones it started with.
   */
  updateSettings(settings: StreamMappingSettings): void {
    this.options = { ...this.options, settings };
  }

  async start(): Promise<void> {
    const { streams, settings } = this.options;
    const described = await streams.send(
      new DescribeStreamCommand({ StreamArn: settings.streamArn }),
    );
    const shards = described.StreamDescription?.Shards ?? [];
    this.running = true;
    // Where each shard starts is fixed before start() returns: LATEST means "after
    // what is on the stream now", not after whatever arrives while the loops spin up.
    const starts = await Promise.all(
      shards.map(async (shard) => {
        const shardId = shard.ShardId ?? '';
        const after =
          settings.startingPosition === 'LATEST' ? await this.newestSequence(shardId) : undefined;
        return { shardId, after };
      }),
    );
    this.loops = starts.map(({ shardId, after }) => this.pollShard(shardId, after));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** An iterator for the records after a sequence number, or from the start of the shard. */
  private async iterator(shardId: string, after: string | undefined): Promise<string | undefined> {
    const { streams, settings } = this.options;
    const position =
      after === undefined
        ? { ShardIteratorType: 'TRIM_HORIZON' as const }
        : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER' as const, SequenceNumber: after };
    const answer = await streams.send(
      new GetShardIteratorCommand({ StreamArn: settings.streamArn, ShardId: shardId, ...position }),
    );
    return answer.ShardIterator;
  }

  /**
   * The next records of the shard at `cursor`, following each page's NextShardIterator
   * as Lambda does; an expired iterator is taken again after the last record read.
   * Undefined once the shard is closed.
   */
  private async readNext(shardId: string, cursor: ShardCursor): Promise<_Record[] | undefined> {
    if (cursor.closed) return undefined;
    for (let attempt = 0; ; attempt += 1) {
      cursor.iterator ??= await this.iterator(shardId, cursor.after);
      if (cursor.iterator === undefined) {
        cursor.closed = true;
        return undefined;
      }
      try {
        const page = await this.options.streams.send(
          new GetRecordsCommand({ ShardIterator: cursor.iterator, Limit: 1000 }),
        );
        const records = page.Records ?? [];
        cursor.after = records[records.length - 1]?.dynamodb?.SequenceNumber ?? cursor.after;
        cursor.iterator = page.NextShardIterator;
        if (cursor.iterator === undefined) cursor.closed = true;
        return records;
      } catch (error) {
        if ((error as Error).name !== 'ExpiredIteratorException' || attempt > 0) throw error;
        cursor.iterator = undefined;
      }
    }
  }

  /** The newest sequence number on the shard now: where LATEST starts. */
  private async newestSequence(shardId: string): Promise<string | undefined> {
    const cursor: ShardCursor = {};
    for (;;) {
      const records = await this.readNext(shardId, cursor);
      if (records === undefined || records.length === 0) return cursor.after;
    }
  }

  private async pollShard(shardId: string, startAfter: string | undefined): Promise<void> {
    // Where reading goes on: after the last record read, processed or filtered out.
    const cursor: ShardCursor = { after: startAfter };
    const pending: DynamoDBRecord[] = [];
    let windowEnds = Number.POSITIVE_INFINITY;
    while (this.running) {
      // Read each time round: updateSettings applies from the next read.
      const { settings } = this.options;
      try {
        if (pending.length < settings.batchSize) {
          const read = await this.readNext(shardId, cursor);
          if (read === undefined) return;
          const records = read
            .map((r) => toLambdaStreamRecord(r, settings.streamArn, settings.region))
            // Lambda drops records the filter criteria reject, for good.
            .filter((r) => matchesAnyPattern(r, settings.filters));
          if (pending.length === 0 && records.length > 0) {
            windowEnds = Date.now() + settings.maximumBatchingWindowSeconds * 1000;
          }
          pending.push(...records);
        }
        const full = pending.length >= settings.batchSize;
        if (pending.length === 0 || (!full && Date.now() < windowEnds)) {
          // Lambda polls a shard about four times a second.
          await sleep(pending.length === 0 ? 250 : Math.min(250, windowEnds - Date.now()));
          continue;
        }
        const batch = pending.splice(0, settings.batchSize);
        await this.process(shardId, batch, 0);
        windowEnds = pending.length > 0 ? Date.now() : Number.POSITIVE_INFINITY;
      } catch (error) {
        if (!this.running) return;
        this.options.onError?.(error);
        await sleep(1000);
      }
    }
  }

  /** Processes `batch` until every record is done or given up on. */
  private async process(
    shardId: string,
    batch: DynamoDBRecord[],
    firstAttempt: number,
  ): Promise<void> {
    const { settings, target } = this.options;
    let remaining = await this.dropExpired(shardId, batch, firstAttempt);
    let attempt = firstAttempt;
    while (this.running && remaining.length > 0) {
      const startedAt = Date.now();
      const outcome = await target.invoke({ Records: remaining });
      this.options.onInvoke?.({
        records: remaining.length,
        attempt,
        outcome,
        durationMs: Date.now() - startedAt,
      });
      const result = batchResult(outcome, remaining, settings.reportBatchItemFailures);
      if (result.kind === 'done') return;
      remaining = remaining.slice(result.index);
      attempt += 1;
      const exhausted =
        settings.maximumRetryAttempts >= 0 && attempt > settings.maximumRetryAttempts;
      if (
        !outcome.ok &&
        settings.bisectBatchOnFunctionError &&
        remaining.length > 1 &&
        !exhausted
      ) {
        const middle = Math.ceil(remaining.length / 2);
        await this.backoff(attempt);
        await this.process(shardId, remaining.slice(0, middle), attempt);
        await this.process(shardId, remaining.slice(middle), attempt);
        return;
      }
      if (exhausted) {
        await this.discard(shardId, remaining, 'RetryAttemptsExhausted', attempt, outcome);
        return;
      }
      await this.backoff(attempt);
      remaining = await this.dropExpired(shardId, remaining, attempt);
    }
  }

  private backoff(attempt: number): Promise<void> {
    const base = this.options.settings.retryBaseDelayMs;
    return sleep(Math.min(base * 2 ** (attempt - 1), base * 30));
  }

  /** Records past the maximum age are not retried: they go to the on-failure destination. */
  private async dropExpired(
    shardId: string,
    batch: DynamoDBRecord[],
    attempt: number,
  ): Promise<DynamoDBRecord[]> {
    const maxAge = this.options.settings.maximumRecordAgeSeconds;
    if (maxAge < 0) return batch;
    const oldest = Date.now() / 1000 - maxAge;
    const expired = batch.filter((r) => (r.dynamodb?.ApproximateCreationDateTime ?? 0) < oldest);
    if (expired.length === 0) return batch;
    await this.discard(shardId, expired, 'RecordAgeExceeded', attempt, undefined);
    return batch.filter((record) => !expired.includes(record));
  }

  private async discard(
    shardId: string,
    records: readonly DynamoDBRecord[],
    condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded',
    attempts: number,
    outcome: InvokeOutcome | undefined,
  ): Promise<void> {
    const { settings } = this.options;
    const destination = settings.onFailure;
    this.options.onDiscard?.({ records: records.length, condition, destination: destination?.arn });
    if (destination === undefined) return;
    const sequences = records.map(sequenceNumber).sort(bySequence);
    const arrivals = records.map((r) => r.dynamodb?.ApproximateCreationDateTime ?? 0);
    const invocationRecord = {
      requestContext: {
        requestId: crypto.randomUUID(),
        functionArn: settings.functionArn,
        condition,
        approximateInvokeCount: attempts,
      },
      responseContext: {
        statusCode: 200,
        executedVersion: '$LATEST',
        functionError: outcome?.ok === false ? 'Unhandled' : '',
      },
      version: '1.0',
      timestamp: new Date().toISOString(),
      DDBStreamBatchInfo: {
        shardId,
        startSequenceNumber: sequences[0],
        endSequenceNumber: sequences[sequences.length - 1],
        approximateArrivalOfFirstRecord: new Date(Math.min(...arrivals) * 1000).toISOString(),
        approximateArrivalOfLastRecord: new Date(Math.max(...arrivals) * 1000).toISOString(),
        batchSize: records.length,
        streamArn: settings.streamArn,
      },
    };
    if (destination.bucket !== undefined) {
      const s3 = this.options.s3;
      if (s3 === undefined) throw new Error('an S3 on-failure destination needs an S3 client');
      // As AWS documents it: the payload is the event, as an escaped JSON string.
      const body = JSON.stringify({
        ...invocationRecord,
        payload: JSON.stringify({ Records: records }),
      });
      await s3.send(
        new PutObjectCommand({
          Bucket: destination.bucket,
          Key: s3FailureKey(settings.mappingId, shardId, new Date()),
          Body: body,
          ContentType: 'application/json',
        }),
      );
      return;
    }
    const body = JSON.stringify(invocationRecord);
    if (destination.queueUrl) {
      await this.options.sqs.send(
        new SendMessageCommand({ QueueUrl: destination.queueUrl, MessageBody: body }),
      );
    } else {
      await this.options.sns.send(new PublishCommand({ TopicArn: destination.arn, Message: body }));
    }
  }
}
