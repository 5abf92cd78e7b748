/**
 * `npm run move-contacts -- [--dry-run]`: a one-off after upgrading a deployed stage to
 * the contacts bucket. It moves the contacts the earlier release kept under
 * `marketing/contacts/` in the assets bucket (`ops/legacy-contacts.ts`), against the
 * running local cloud or a deployed stack (`--stack`).
 */
import { type CommandIo, runAsCommand } from './command';
import {
  applyMove,
  decideMove,
  describeMove,
  findLegacyContacts,
  LEGACY_CONTACTS_PREFIX,
} from './legacy-contacts';
import { type MaintenanceCommand, runMaintenance } from './maintenance-command';

const MOVE_CONTACTS: MaintenanceCommand = {
  name: 'move-contacts',
  description: `Moves the marketing contacts an earlier release kept under ${LEGACY_CONTACTS_PREFIX} in the
assets bucket to the contacts bucket: the current version of each contact whose consent
record still grants and whose customer exists is copied (unless the contacts bucket has
one already), then every version and delete marker under the old prefix is deleted.
Run it with your own credentials, once, after the upgrade; running it again is safe.`,
  run: async (stores, { dryRun }, io) => {
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
  },
};

/** Runs the move; resolves to the exit code (0 ok, 1 a contact failed, 2 usage). */
export const runMoveContacts = (argv: readonly string[], io: CommandIo): Promise<number> =>
  runMaintenance(MOVE_CONTACTS, argv, io);

if (require.main === module) runAsCommand(runMoveContacts);
