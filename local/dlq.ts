/**
 * `npm run dlq -- <command>`: the dead-letter runbook, against the running local
 * cloud (its state file) or a deployed stack (`--stack`).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { runAsCommand } from './command';
import {
  cloudFormationLocator,
  countMessages,
  type DeadLetterQueue,
  deadLetterQueuesOf,
  findDeadLetterQueues,
  KIND_LABELS,
  type LocatedDeadLetterQueue,
  localCloudLocator,
  locate,
  type PeekedMessage,
  peekMessages,
  queueNameOf,
  type ResourceLocator,
  redriveMessages,
  STREAM_REPLAY_BY_HAND,
  streamRangeOf,
  UnknownConsumer,
} from './dead-letters';
import { type CfnTemplate, DEFAULT_STATE_FILE } from './model';
import { emulatorClientConfig, readLocalCloudState } from './state';

export const USAGE = `usage: npm run dlq -- <command> [options]

commands:
  list                          every dead-letter queue, what it holds and where it came from
  peek <consumer> [--max N]     show up to N (1-10, default 10) messages, leaving them in place
  redrive <consumer>            move every message back to where it failed (the consumer's queue)

<consumer>: a construct id (WelcomeConsumer, StreamPublisher) or its short form (welcome), any case

target (default: the running local cloud, from $LOCAL_CLOUD_STATE or ${DEFAULT_STATE_FILE}):
  --state-file <file>           another local cloud state file
  --stack <name>                a deployed stack (e.g. CustomerPipeline-prod), found through CloudFormation
  --region <region>             the deployed stack's region (default: the AWS SDK's)
  --template <file>             the synthesized template (default: the local cloud's own synth,
                                cdk.out/ next to its state file, else cdk.out/<stack>.template.json)`;

/** Where the command writes, and what it reads of its environment; tests pass their own. */
export interface DlqIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

class UsageError extends Error {}

const BODY_LIMIT_BYTES = 2048;
const MAX_PEEK = 10;

const templateSchema = z.object({
  Resources: z.record(z.string(), z.object({ Type: z.string() }).loose()),
});

const readJson = async (file: string, what: string, hint: string): Promise<unknown> => {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new Error(`no ${what} at ${file}: ${hint}`);
  }
  return JSON.parse(text);
};

interface Target {
  readonly stackName: string;
  readonly locator: ResourceLocator;
  readonly sqs: SQSClient;
  /** The template the local cloud runs, when the target is a local cloud. */
  readonly templateFile?: string;
  /** Where to look for the synthesized template otherwise, first match wins. */
  readonly templateDirs: readonly string[];
}

const localCloudTarget = async (stateFile: string): Promise<Target> => {
  const state = await readLocalCloudState(stateFile);
  return {
    stackName: state.stackName,
    locator: localCloudLocator(state),
    templateFile: state.templateFile,
    templateDirs: ['cdk.out'],
    sqs: new SQSClient(emulatorClientConfig(state)),
  };
};

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

const printMessage = (io: DlqIo, dlq: DeadLetterQueue, message: PeekedMessage, n: number): void => {
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

const list = async (io: DlqIo, sqs: SQSClient, dlqs: readonly LocatedDeadLetterQueue[]) => {
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
  io: DlqIo,
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

const redrive = async (io: DlqIo, sqs: SQSClient, dlqs: readonly LocatedDeadLetterQueue[]) => {
  let code = 0;
  for (const dlq of dlqs) {
    if (dlq.kind === 'stream') {
      io.err(`${heading(dlq)}: ${STREAM_REPLAY_BY_HAND}`);
      code = 2;
      continue;
    }
    const result = await redriveMessages(sqs, dlq);
    io.out(`${heading(dlq)} → ${sourceLabel(dlq)}: moved ${result.moved}`);
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
export const runDlq = async (argv: readonly string[], io: DlqIo): Promise<number> => {
  let sqs: SQSClient | undefined;
  try {
    const { values, positionals } = (() => {
      try {
        return parseArgs({
          args: [...argv],
          allowPositionals: true,
          options: {
            max: { type: 'string' },
            stack: { type: 'string' },
            region: { type: 'string' },
            template: { type: 'string' },
            'state-file': { type: 'string' },
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

    const target: Target = values.stack
      ? {
          stackName: values.stack,
          locator: cloudFormationLocator(values.stack, values.region),
          sqs: new SQSClient({ region: values.region }),
          templateDirs: ['cdk.out'],
        }
      : await localCloudTarget(
          path.resolve(
            io.cwd,
            values['state-file'] ?? io.env.LOCAL_CLOUD_STATE ?? DEFAULT_STATE_FILE,
          ),
        );
    sqs = target.sqs;
    const candidates = values.template
      ? [values.template]
      : target.templateFile
        ? [target.templateFile]
        : target.templateDirs.map((dir) => path.join(dir, `${target.stackName}.template.json`));
    const templateFile =
      candidates.map((file) => path.resolve(io.cwd, file)).find((file) => existsSync(file)) ??
      path.resolve(io.cwd, candidates[candidates.length - 1] ?? '');
    const template = templateSchema.parse(
      await readJson(templateFile, 'synthesized template', 'run `npx cdk synth` first'),
    ) as CfnTemplate;
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
