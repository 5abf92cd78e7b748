/**
 * `npm run repair-deleted -- [--dry-run]`: a one-off after upgrading a deployed stage
 * to tombstones. It gives what customers deleted before the upgrade left behind the
 * treatment a deletion gives today (`ops/deleted-customers.ts`), against the running
 * local cloud or a deployed stack (`--stack`).
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type CommandIo, runAsCommand } from '../local/command';
import {
  applyRepair,
  describeRepair,
  findDeletedCustomers,
  type Stores,
} from './deleted-customers';
import { openTarget, resourceOfOutput, TARGET_OPTIONS, TARGET_USAGE } from './stack-target';

export const USAGE = `usage: npm run repair-deleted -- [--dry-run] [target]

Finds every customer whose profile is gone but who left something behind (a consent
record that is no tombstone, an item without expiry, an email claim, a marketing
contact, an archive without a tombstone version) and repairs it. It Scans the table:
run it with your own credentials, once, after the upgrade.

  --dry-run                     say what it would do, and change nothing

${TARGET_USAGE}`;

const parse = (argv: readonly string[]) =>
  parseArgs({
    args: [...argv],
    options: { 'dry-run': { type: 'boolean' }, ...TARGET_OPTIONS, help: { type: 'boolean' } },
  }).values;

/** Runs the repair; resolves to the exit code (0 ok, 1 a repair failed, 2 usage). */
export const runRepairDeleted = async (argv: readonly string[], io: CommandIo): Promise<number> => {
  let values: ReturnType<typeof parse>;
  try {
    values = parse(argv);
  } catch (error) {
    io.err(`repair-deleted: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const dryRun = values['dry-run'] === true;
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
    const repairs = await findDeletedCustomers(stores);
    let failed = 0;
    const now = new Date();
    for (const repair of repairs) {
      const line = describeRepair(repair);
      if (dryRun) {
        io.out(`would repair ${line}`);
        continue;
      }
      try {
        await applyRepair(stores, repair, now);
        io.out(`repaired ${line}`);
      } catch (error) {
        failed += 1;
        io.err(`failed ${line}: ${(error as Error).name}: ${(error as Error).message}`);
      }
    }
    const verb = dryRun ? 'would repair' : 'repaired';
    io.out(`${verb} ${repairs.length - failed} deleted customer(s)${dryRun ? ' (dry run)' : ''}`);
    if (failed > 0) {
      io.err(`${failed} failed (changed meanwhile, or an AWS error): run it again`);
      return 1;
    }
    return 0;
  } catch (error) {
    io.err(`repair-deleted: ${(error as Error).message}`);
    return 1;
  } finally {
    dynamodb?.destroy();
    s3?.destroy();
  }
};

if (require.main === module) runAsCommand(runRepairDeleted);
