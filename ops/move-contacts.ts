/**
 * `npm run move-contacts -- [--dry-run]`: a one-off after upgrading a deployed stage to
 * the contacts bucket. It moves the contacts the earlier release kept under
 * `marketing/contacts/` in the assets bucket (`ops/legacy-contacts.ts`), against the
 * running local cloud or a deployed stack (`--stack`).
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type CommandIo, runAsCommand } from '../local/command';
import {
  applyMove,
  type ContactStores,
  decideMove,
  describeMove,
  findLegacyContacts,
  LEGACY_CONTACTS_PREFIX,
} from './legacy-contacts';
import { openTarget, resourceOfOutput, TARGET_OPTIONS, TARGET_USAGE } from './stack-target';

export const USAGE = `usage: npm run move-contacts -- [--dry-run] [target]

Moves the marketing contacts an earlier release kept under ${LEGACY_CONTACTS_PREFIX} in the
assets bucket to the contacts bucket: the current version of each contact whose consent
record still grants and whose customer exists is copied (unless the contacts bucket has
one already), then every version and delete marker under the old prefix is deleted.
Run it with your own credentials, once, after the upgrade; running it again is safe.

  --dry-run                     say what it would do, and change nothing

${TARGET_USAGE}`;

const parse = (argv: readonly string[]) =>
  parseArgs({
    args: [...argv],
    options: { 'dry-run': { type: 'boolean' }, ...TARGET_OPTIONS, help: { type: 'boolean' } },
  }).values;

/** Runs the move; resolves to the exit code (0 ok, 1 a contact failed, 2 usage). */
export const runMoveContacts = async (argv: readonly string[], io: CommandIo): Promise<number> => {
  let values: ReturnType<typeof parse>;
  try {
    values = parse(argv);
  } catch (error) {
    io.err(`move-contacts: ${(error as Error).message}\n\n${USAGE}`);
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
    const stores: ContactStores = {
      doc: DynamoDBDocumentClient.from(dynamodb),
      s3,
      tableName: await resourceOfOutput(target, 'TableName'),
      assetsBucket: await resourceOfOutput(target, 'AssetsBucketName'),
      contactsBucket: await resourceOfOutput(target, 'MarketingContactsBucketName'),
    };
    io.out(
      `${target.stackName}: from ${stores.assetsBucket}/${LEGACY_CONTACTS_PREFIX} to ${stores.contactsBucket}, consent from table ${stores.tableName}`,
    );
    const found = await findLegacyContacts(stores);
    let copied = 0;
    let failed = 0;
    for (const legacy of found) {
      try {
        const planned = await decideMove(stores, legacy);
        const done = dryRun ? planned : await applyMove(stores, planned);
        if (done.decision === 'copy') copied += 1;
        io.out(`${dryRun ? 'would move' : 'moved'} ${describeMove(done)}`);
      } catch (error) {
        failed += 1;
        io.err(
          `failed ${legacy.customerId ?? legacy.key}: ${(error as Error).name}: ${(error as Error).message}`,
        );
      }
    }
    const moved = found.length - failed;
    io.out(
      `${dryRun ? 'would move' : 'moved'} ${moved} contact(s): ${copied} copied, ${moved - copied} deleted without a copy${dryRun ? ' (dry run)' : ''}`,
    );
    if (failed > 0) {
      io.err(`${failed} failed (an AWS error): run it again`);
      return 1;
    }
    return 0;
  } catch (error) {
    io.err(`move-contacts: ${(error as Error).message}`);
    return 1;
  } finally {
    dynamodb?.destroy();
    s3?.destroy();
  }
};

if (require.main === module) runAsCommand(runMoveContacts);
