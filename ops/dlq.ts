/**
 * `npm run dlq -- <command>`: the dead-letter runbook, against the running local
 * cloud (its state file) or a deployed stack (`--stack`).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { maxRedriveAgeSeconds, maxReplayAgeSeconds } from '../lambda/shared/domain/deletion';
import { UnreadableFailureObject } from '../lambda/stream-publisher/failure-record';
import { openTarget, TARGET_OPTIONS, TARGET_USAGE } from '../ops/stack-target';
import { type CommandIo, parseCommandArgs, runAsCommand, UsageError } from './command';
import {
  countMessages,
  findDeadLetterQueues,
  KIND_LABELS,
  type LocatedDeadLetterQueue,
  locate,
  type PeekedMessage,
  peekMessages,
  queueNameOf,
  redriveMessages,
  refuseEventsOlderThan,
  UnknownConsumer,
} from './dead-letters';
import {
  failureKeyOf,
  findStreamFailureBuckets,
  type LocatedStreamFailureBucket,
  listFailures,
  locateFailureBuckets,
  type ReplayResult,
  readFailure,
  replayFailure,
  summaryOf,
} from './stream-failures';

export const USAGE = `usage: npm run dlq -- <command> [options]

commands:
  list                          every dead-letter queue and the stream failure bucket: what each
                                holds and where it came from
  peek <consumer> [--max N]     show up to N (1-10, default 10) messages or failure objects,
                                leaving them in place (a stream record: its keys, never its images)
  redrive <consumer>            move every message back to where it failed (the consumer's queue),
                                but an event too old to apply safely, which stays (docs/architecture.md, Guarantees)
  replay <object> | --all       publish the stream records of a failure object (its key, or
                                s3://<bucket>/<key>) again, as the publisher would, then delete it;
                                one too old to apply safely stays, unless --include-old

<consumer>: its one name, the folder of its function under lambda/ (welcome, archive, marketing,
            stream-publisher); \`list\` shows them

${TARGET_USAGE}`;

const BODY_LIMIT_BYTES = 2048;
const MAX_PEEK = 10;

const pad = (rows: readonly (readonly string[])[]): string[] => {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  '),
  );
};

const sourceLabel = (dlq: LocatedDeadLetterQueue): string => {
  switch (dlq.kind) {
    case 'queue':
      return `queue ${queueNameOf(dlq.source)}`;
    case 'subscription':
      return `topic subscription of queue ${queueNameOf(dlq.source)}`;
  }
};

const STREAM_FAILURES = 'stream failures';

const heading = (dlq: LocatedDeadLetterQueue): string =>
  `${dlq.consumer} ${KIND_LABELS[dlq.kind]} ${queueNameOf(dlq.queueUrl)}`;

const printableBody = (body: string): string => {
  let text = body;
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null) text = JSON.stringify(parsed, null, 2);
  } catch {
    // Not JSON: shown as it is.
  }
  const bytes = Buffer.from(text);
  if (bytes.length <= BODY_LIMIT_BYTES) return text;
  const shown = bytes
    .subarray(0, BODY_LIMIT_BYTES)
    .toString()
    .replace(/\uFFFD+$/, '');
  return `${shown}\n… (${bytes.length - BODY_LIMIT_BYTES} more bytes)`;
};

const printMessage = (io: CommandIo, message: PeekedMessage, n: number): void => {
  io.out(
    `  [${n}] ${message.messageId}  received ${message.receiveCount}×  sent ${message.sentAt?.toISOString() ?? '?'}`,
  );
  const attributes = Object.entries(message.messageAttributes).map(
    ([name, value]) => `${name}=${value.StringValue ?? `<${value.DataType}>`}`,
  );
  if (attributes.length > 0) io.out(`      attributes: ${attributes.join(', ')}`);
  for (const line of printableBody(message.body).split('\n')) io.out(`      ${line}`);
};

/** The objects listed under the table, at most this many per bucket. */
const LIST_OBJECTS = 20;

const list = async (
  io: CommandIo,
  clients: Clients,
  dlqs: readonly LocatedDeadLetterQueue[],
  buckets: readonly LocatedStreamFailureBucket[],
) => {
  const counts = await Promise.all(dlqs.map((dlq) => countMessages(clients.sqs, dlq)));
  const stored = await Promise.all(buckets.map((b) => listFailures(clients.s3, b.bucket)));
  const rows = [
    ...buckets.map((b, i) => [
      b.consumer,
      STREAM_FAILURES,
      `s3://${b.bucket}`,
      `${stored[i]?.length ?? 0} objects`,
      `stream of table ${b.table}`,
    ]),
    ...counts.map(({ dlq, visible, inFlight }) => [
      dlq.consumer,
      KIND_LABELS[dlq.kind],
      queueNameOf(dlq.queueUrl),
      inFlight === 0 ? String(visible) : `${visible + inFlight} (${inFlight} in flight)`,
      sourceLabel(dlq),
    ]),
  ];
  for (const line of pad([['CONSUMER', 'KIND', 'WHERE', 'HOLDS', 'SOURCE'], ...rows])) {
    io.out(line);
  }
  buckets.forEach((b, i) => {
    const objects = stored[i] ?? [];
    if (objects.length === 0) return;
    io.out('');
    io.out(
      `${b.consumer} ${STREAM_FAILURES} in s3://${b.bucket} (replay: npm run dlq -- replay <key>):`,
    );
    for (const object of objects.slice(0, LIST_OBJECTS)) {
      io.out(`  ${object.key}  ${object.size} bytes  ${object.lastModified?.toISOString() ?? '?'}`);
    }
    if (objects.length > LIST_OBJECTS) io.out(`  … ${objects.length - LIST_OBJECTS} more`);
  });
  return 0;
};

const peekBucket = async (
  io: CommandIo,
  s3: S3Client,
  b: LocatedStreamFailureBucket,
  max: number,
) => {
  const objects = (await listFailures(s3, b.bucket)).slice(0, max);
  io.out(
    `${b.consumer} ${STREAM_FAILURES} s3://${b.bucket}: ${objects.length === 0 ? 'empty' : `${objects.length} shown`}`,
  );
  for (const [index, object] of objects.entries()) {
    io.out(`  [${index + 1}] ${object.key}  ${object.lastModified?.toISOString() ?? '?'}`);
    let failure: Awaited<ReturnType<typeof readFailure>>['failure'];
    try {
      ({ failure } = await readFailure(s3, b.bucket, object.key));
    } catch (error) {
      if (!(error instanceof UnreadableFailureObject)) throw error;
      io.out(`      ${error.message}`);
      continue;
    }
    const info = failure.batchInfo;
    io.out(
      `      ${failure.condition ?? '?'} at ${failure.timestamp ?? '?'}` +
        (info?.shardId ? `, shard ${info.shardId}` : '') +
        (info
          ? `, sequence ${info.startSequenceNumber ?? '?'} to ${info.endSequenceNumber ?? '?'}`
          : ''),
    );
    if (failure.reason) io.out(`      reason: ${failure.reason}`);
    if (failure.records === undefined) {
      io.out('      no payload: the invocation record only');
      continue;
    }
    for (const record of failure.records) {
      const { sequenceNumber, eventName, eventId, keys } = summaryOf(record);
      io.out(`      ${sequenceNumber}  ${eventName}  ${eventId}  ${keys}`);
    }
  }
};

const peek = async (
  io: CommandIo,
  clients: Clients,
  dlqs: readonly LocatedDeadLetterQueue[],
  buckets: readonly LocatedStreamFailureBucket[],
  max: number,
) => {
  for (const b of buckets) await peekBucket(io, clients.s3, b, max);
  for (const dlq of dlqs) {
    const messages = await peekMessages(clients.sqs, dlq, max);
    io.out(`${heading(dlq)}: ${messages.length === 0 ? 'empty' : `${messages.length} shown`}`);
    messages.forEach((message, index) => {
      printMessage(io, message, index + 1);
    });
  }
  return 0;
};

/** SQS's default message retention, for a queue whose attributes do not say. */
const SQS_DEFAULT_RETENTION_SECONDS = 4 * 24 * 60 * 60;

const retentionOf = async (sqs: SQSClient, queueUrl: string): Promise<number> => {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['MessageRetentionPeriod'],
    }),
  );
  const seconds = Number(Attributes?.MessageRetentionPeriod);
  return Number.isFinite(seconds) && seconds > 0 ? seconds : SQS_DEFAULT_RETENTION_SECONDS;
};

const redrive = async (
  io: CommandIo,
  sqs: SQSClient,
  dlqs: readonly LocatedDeadLetterQueue[],
  buckets: readonly LocatedStreamFailureBucket[],
) => {
  let code = 0;
  for (const b of buckets) {
    io.err(
      `${b.consumer} ${STREAM_FAILURES}: stream records are published again, not moved: ` +
        'npm run dlq -- replay <key> (or --all)',
    );
    code = 2;
  }
  for (const dlq of dlqs) {
    // Once back, an event may wait out its queue's retention again, and must still
    // meet the tombstone of a customer deleted after it happened.
    const maxAge = maxRedriveAgeSeconds(await retentionOf(sqs, dlq.source));
    const result = await redriveMessages(sqs, dlq, { refuse: refuseEventsOlderThan(maxAge) });
    io.out(`${heading(dlq)} → ${sourceLabel(dlq)}: moved ${result.moved}`);
    if (result.moved > 0 && dlq.source.endsWith('.fifo')) {
      io.out(
        `${heading(dlq)}: FIFO: each message went back in its group, under deduplication id ` +
          'redrive-<its message id> (SQS drops a resend under the original id for 5 minutes)',
      );
    }
    if (result.refused.length > 0) {
      io.err(
        `${heading(dlq)}: refused ${result.refused.length}, left in the DLQ: a deleted ` +
          "customer's tombstone may be gone before they are applied (README, Guarantees)",
      );
      for (const { messageId, reason } of result.refused) io.err(`  ${messageId}: ${reason}`);
      code = Math.max(code, 1);
    }
    if (result.stoppedBecause) {
      io.err(`${heading(dlq)}: stopped with ${result.left} left: ${result.stoppedBecause}`);
      code = Math.max(code, 1);
    }
  }
  return code;
};

const printReplay = (io: CommandIo, result: ReplayResult): void => {
  const done = `published ${result.published}, skipped ${result.skipped}`;
  if (result.deleted) {
    io.out(`${result.key}: ${done}; deleted`);
    return;
  }
  io.err(`${result.key}: ${done}; kept${result.error ? `: ${result.error}` : ''}`);
  for (const { sequenceNumber, reason } of result.unpublishable) {
    io.err(`  ${sequenceNumber}: cannot be published: ${reason}`);
  }
  for (const { sequenceNumber, reason } of result.refused) {
    io.err(`  ${sequenceNumber}: refused: ${reason}`);
  }
};

const replay = async (
  io: CommandIo,
  clients: Clients,
  b: LocatedStreamFailureBucket,
  queues: readonly LocatedDeadLetterQueue[],
  target: { readonly key?: string; readonly all: boolean; readonly includeOld: boolean },
) => {
  const keys = target.all
    ? (await listFailures(clients.s3, b.bucket)).map((object) => object.key)
    : [failureKeyOf(target.key ?? '', b.bucket)];
  if (keys.length === 0) {
    io.out(`s3://${b.bucket} holds nothing to replay`);
    return 0;
  }
  // Published again, an event may wait out SNS's retries and a consumer queue's retention.
  const sources = [...new Set(queues.map((dlq) => dlq.source))];
  const retentions = await Promise.all(sources.map((url) => retentionOf(clients.sqs, url)));
  const maxAgeSeconds = target.includeOld
    ? Number.POSITIVE_INFINITY
    : maxReplayAgeSeconds(Math.max(SQS_DEFAULT_RETENTION_SECONDS, ...retentions));
  let code = 0;
  for (const key of keys) {
    const result = await replayFailure(clients.s3, clients.sns, b, key, { maxAgeSeconds });
    printReplay(io, result);
    if (!result.deleted) code = 1;
  }
  return code;
};

const parseMax = (value: string | undefined): number => {
  if (value === undefined) return 10;
  const max = Number(value);
  // One receive returns at most 10, and paging further would mean hiding the first ones.
  if (!Number.isInteger(max) || max < 1 || max > MAX_PEEK) {
    throw new UsageError(`--max must be a whole number from 1 to ${MAX_PEEK}`);
  }
  return max;
};

interface Clients {
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  readonly sns: SNSClient;
}

/** Runs one dlq command; resolves to the exit code (0 ok, 1 failure, 2 usage). */
export const runDlq = async (argv: readonly string[], io: CommandIo): Promise<number> => {
  let clients: Clients | undefined;
  try {
    const { values, positionals } = parseCommandArgs(argv, {
      max: { type: 'string' },
      all: { type: 'boolean' },
      'include-old': { type: 'boolean' },
      ...TARGET_OPTIONS,
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      io.out(USAGE);
      return 0;
    }
    const [command, argument, ...extra] = positionals;
    const needsConsumer = command === 'peek' || command === 'redrive';
    if (command !== 'list' && command !== 'replay' && !needsConsumer) {
      throw new UsageError(command ? `unknown command "${command}"` : 'no command');
    }
    if (needsConsumer && !argument) throw new UsageError(`${command} needs a consumer`);
    if (command === 'replay' && Boolean(argument) === Boolean(values.all)) {
      throw new UsageError('replay needs one object key, or --all');
    }
    if (extra.length > 0 || (command === 'list' && argument)) {
      throw new UsageError(`unexpected argument "${extra[0] ?? argument}"`);
    }
    const max = parseMax(values.max);

    const target = await openTarget(values, io);
    clients = {
      sqs: new SQSClient(target.clientConfig),
      s3: new S3Client(target.clientConfig),
      sns: new SNSClient(target.clientConfig),
    };
    const { template } = target;
    let queues = findDeadLetterQueues(template);
    let buckets = findStreamFailureBuckets(template);
    if (needsConsumer && argument) {
      const named = (consumer: string) => consumer === argument.toLowerCase();
      const known = [...new Set([...buckets, ...queues].map((x) => x.consumer))];
      queues = queues.filter((dlq) => named(dlq.consumer));
      buckets = buckets.filter((b) => named(b.consumer));
      if (queues.length + buckets.length === 0) throw new UnknownConsumer(argument, known);
    }
    const located = await locate(queues, target.locator);
    const failureBuckets = await locateFailureBuckets(buckets, target.locator);
    if (command === 'list') return await list(io, clients, located, failureBuckets);
    if (command === 'peek') return await peek(io, clients, located, failureBuckets, max);
    if (command === 'redrive') return await redrive(io, clients.sqs, located, failureBuckets);
    const [bucket, ...others] = failureBuckets;
    if (!bucket || others.length > 0) {
      throw new Error(
        `expected one stream failure bucket in the template, found ${failureBuckets.length}`,
      );
    }
    return await replay(io, clients, bucket, located, {
      key: argument,
      all: values.all === true,
      includeOld: values['include-old'] === true,
    });
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`dlq: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof UnknownConsumer) {
      io.err(`dlq: ${error.message}`);
      return 2;
    }
    io.err(`dlq: ${(error as Error).message}`);
    return 1;
  } finally {
    clients?.sqs.destroy();
    clients?.s3.destroy();
    clients?.sns.destroy();
  }
};

if (require.main === module) runAsCommand(runDlq);
