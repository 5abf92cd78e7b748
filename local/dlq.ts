/**
 * `npm run dlq -- <command>`: the dead-letter runbook, against the running local
 * cloud (its state file) or a deployed stack (`--stack`).
 */
import { parseArgs } from 'node:util';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { maxRedriveAgeSeconds } from '../lambda/shared/domain/deletion';
import { openTarget, TARGET_OPTIONS, TARGET_USAGE } from '../ops/stack-target';
import { type CommandIo, runAsCommand } from './command';
import {
  countMessages,
  type DeadLetterQueue,
  deadLetterQueuesOf,
  findDeadLetterQueues,
  KIND_LABELS,
  type LocatedDeadLetterQueue,
  locate,
  type PeekedMessage,
  peekMessages,
  queueNameOf,
  redriveMessages,
  refuseEventsOlderThan,
  STREAM_REPLAY_BY_HAND,
  streamRangeOf,
  UnknownConsumer,
} from './dead-letters';

export const USAGE = `usage: npm run dlq -- <command> [options]

commands:
  list                          every dead-letter queue, what it holds and where it came from
  peek <consumer> [--max N]     show up to N (1-10, default 10) messages, leaving them in place
  redrive <consumer>            move every message back to where it failed (the consumer's queue),
                                but an event too old to apply safely, which stays (README, Guarantees)

<consumer>: a construct id (WelcomeConsumer, StreamPublisher) or its short form (welcome), any case

${TARGET_USAGE}`;

class UsageError extends Error {}

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
    case 'stream':
      return `stream of table ${dlq.source}`;
  }
};

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

const printMessage = (
  io: CommandIo,
  dlq: DeadLetterQueue,
  message: PeekedMessage,
  n: number,
): void => {
  io.out(
    `  [${n}] ${message.messageId}  received ${message.receiveCount}×  sent ${message.sentAt?.toISOString() ?? '?'}`,
  );
  const attributes = Object.entries(message.messageAttributes).map(
    ([name, value]) => `${name}=${value.StringValue ?? `<${value.DataType}>`}`,
  );
  if (attributes.length > 0) io.out(`      attributes: ${attributes.join(', ')}`);
  const range = dlq.kind === 'stream' ? streamRangeOf(message.body) : undefined;
  if (range) {
    io.out(
      `      stream range: shard ${range.shardId}, sequence ${range.startSequenceNumber} to ${range.endSequenceNumber}` +
        (range.batchSize === undefined ? '' : ` (${range.batchSize} records)`),
    );
  }
  for (const line of printableBody(message.body).split('\n')) io.out(`      ${line}`);
};

const list = async (io: CommandIo, sqs: SQSClient, dlqs: readonly LocatedDeadLetterQueue[]) => {
  const counts = await Promise.all(dlqs.map((dlq) => countMessages(sqs, dlq)));
  const rows = counts.map(({ dlq, visible, inFlight }) => [
    dlq.consumer,
    KIND_LABELS[dlq.kind],
    queueNameOf(dlq.queueUrl),
    inFlight === 0 ? String(visible) : `${visible + inFlight} (${inFlight} in flight)`,
    sourceLabel(dlq),
  ]);
  for (const line of pad([['CONSUMER', 'KIND', 'QUEUE', 'MESSAGES', 'SOURCE'], ...rows])) {
    io.out(line);
  }
  return 0;
};

const peek = async (
  io: CommandIo,
  sqs: SQSClient,
  dlqs: readonly LocatedDeadLetterQueue[],
  max: number,
) => {
  for (const dlq of dlqs) {
    const messages = await peekMessages(sqs, dlq, max);
    io.out(`${heading(dlq)}: ${messages.length === 0 ? 'empty' : `${messages.length} shown`}`);
    messages.forEach((message, index) => {
      printMessage(io, dlq, message, index + 1);
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

const redrive = async (io: CommandIo, sqs: SQSClient, dlqs: readonly LocatedDeadLetterQueue[]) => {
  let code = 0;
  for (const dlq of dlqs) {
    if (dlq.kind === 'stream') {
      io.err(`${heading(dlq)}: ${STREAM_REPLAY_BY_HAND}`);
      code = 2;
      continue;
    }
    // Once back, an event may wait out its queue's retention again, and must still
    // meet the tombstone of a customer deleted after it happened.
    const maxAge = maxRedriveAgeSeconds(await retentionOf(sqs, dlq.source));
    const result = await redriveMessages(sqs, dlq, { refuse: refuseEventsOlderThan(maxAge) });
    io.out(`${heading(dlq)} → ${sourceLabel(dlq)}: moved ${result.moved}`);
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

const parseMax = (value: string | undefined): number => {
  if (value === undefined) return 10;
  const max = Number(value);
  // One receive returns at most 10, and paging further would mean hiding the first ones.
  if (!Number.isInteger(max) || max < 1 || max > MAX_PEEK) {
    throw new UsageError(`--max must be a whole number from 1 to ${MAX_PEEK}`);
  }
  return max;
};

/** Runs one dlq command; resolves to the exit code (0 ok, 1 failure, 2 usage). */
export const runDlq = async (argv: readonly string[], io: CommandIo): Promise<number> => {
  let sqs: SQSClient | undefined;
  try {
    const { values, positionals } = (() => {
      try {
        return parseArgs({
          args: [...argv],
          allowPositionals: true,
          options: {
            max: { type: 'string' },
            ...TARGET_OPTIONS,
            help: { type: 'boolean', short: 'h' },
          },
        });
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
    })();
    if (values.help) {
      io.out(USAGE);
      return 0;
    }
    const [command, consumer, ...extra] = positionals;
    const needsConsumer = command === 'peek' || command === 'redrive';
    if (command !== 'list' && !needsConsumer) {
      throw new UsageError(command ? `unknown command "${command}"` : 'no command');
    }
    if (needsConsumer && !consumer) throw new UsageError(`${command} needs a consumer`);
    if (extra.length > 0 || (command === 'list' && consumer)) {
      throw new UsageError(`unexpected argument "${extra[0] ?? consumer}"`);
    }
    const max = parseMax(values.max);

    const target = await openTarget(values, io);
    sqs = new SQSClient(target.clientConfig);
    const { template } = target;
    const all = findDeadLetterQueues(template);
    const chosen = needsConsumer && consumer ? deadLetterQueuesOf(all, consumer) : all;
    const located = await locate(chosen, target.locator);
    if (command === 'list') return await list(io, sqs, located);
    if (command === 'peek') return await peek(io, sqs, located, max);
    return await redrive(io, sqs, located);
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
    sqs?.destroy();
  }
};

if (require.main === module) runAsCommand(runDlq);
