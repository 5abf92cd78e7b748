/**
 * What the one-off maintenance commands (`npm run repair-deleted`, `npm run
 * move-contacts`) share: their options, the stack they act on (the running local
 * cloud, or a deployed stack with `--stack`), its table and buckets found by the
 * stack's outputs, and the SDK clients, made once and closed at the end.
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CommandIo } from './command';
import { openTarget, resourceOfOutput, TARGET_OPTIONS, TARGET_USAGE } from './stack-target';

/** Where the customers are kept. */
export interface Stores {
  readonly doc: DynamoDBDocumentClient;
  readonly s3: S3Client;
  readonly tableName: string;
  /** The archive, under `customers/` (and, before the contacts bucket, the contacts). */
  readonly assetsBucket: string;
  /** The marketing contacts. */
  readonly contactsBucket: string;
}

export interface MaintenanceCommand {
  /** The npm script, e.g. `repair-deleted`. */
  readonly name: string;
  /** What it does, for its usage text; the options and the target are added. */
  readonly description: string;
  /** The work itself; resolves to the exit code (0 done, 1 something failed, to run again). */
  readonly run: (
    stores: Stores,
    options: { readonly dryRun: boolean },
    io: CommandIo,
  ) => Promise<number>;
}

export const usageOf = ({ name, description }: MaintenanceCommand): string =>
  `usage: npm run ${name} -- [--dry-run] [target]

${description}

  --dry-run                     say what it would do, and change nothing

${TARGET_USAGE}`;

const parse = (argv: readonly string[]) =>
  parseArgs({
    args: [...argv],
    options: { 'dry-run': { type: 'boolean' }, ...TARGET_OPTIONS, help: { type: 'boolean' } },
  }).values;

/** Runs `command` with `argv`; resolves to its exit code, 2 for a usage error. */
export const runMaintenance = async (
  command: MaintenanceCommand,
  argv: readonly string[],
  io: CommandIo,
): Promise<number> => {
  let values: ReturnType<typeof parse>;
  try {
    values = parse(argv);
  } catch (error) {
    io.err(`${command.name}: ${(error as Error).message}\n\n${usageOf(command)}`);
    return 2;
  }
  if (values.help) {
    io.out(usageOf(command));
    return 0;
  }
  let dynamodb: DynamoDBClient | undefined;
  let s3: S3Client | undefined;
  try {
    const target = await openTarget(values, io);
    dynamodb = new DynamoDBClient(target.clientConfig);
    s3 = new S3Client(target.clientConfig);
    const stores: Stores = {
      doc: DynamoDBDocumentClient.from(dynamodb),
      s3,
      tableName: await resourceOfOutput(target, 'TableName'),
      assetsBucket: await resourceOfOutput(target, 'AssetsBucketName'),
      contactsBucket: await resourceOfOutput(target, 'MarketingContactsBucketName'),
    };
    io.out(
      `${target.stackName}: table ${stores.tableName}, buckets ${stores.assetsBucket} (archive), ${stores.contactsBucket} (contacts)`,
    );
    return await command.run(stores, { dryRun: values['dry-run'] === true }, io);
  } catch (error) {
    io.err(`${command.name}: ${(error as Error).message}`);
    return 1;
  } finally {
    dynamodb?.destroy();
    s3?.destroy();
  }
};
