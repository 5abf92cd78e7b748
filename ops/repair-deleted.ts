/**
 * `npm run repair-deleted -- [--dry-run]`: a one-off after upgrading a deployed stage
 * to tombstones. It gives what customers deleted before the upgrade left behind the
 * treatment a deletion gives today (`ops/deleted-customers.ts`), against the running
 * local cloud or a deployed stack (`--stack`).
 */
import { type CommandIo, runAsCommand } from './command';
import { applyRepair, describeRepair, findDeletedCustomers } from './deleted-customers';
import { type MaintenanceCommand, runMaintenance } from './maintenance-command';

const REPAIR_DELETED: MaintenanceCommand = {
  name: 'repair-deleted',
  description: `Finds every customer whose profile is gone but who left something behind (a consent
record that is no tombstone, an item without expiry, an email claim, a marketing
contact, an archive without a tombstone version) and repairs it. It Scans the table:
run it with your own credentials, once, after the upgrade.`,
  run: async (stores, { dryRun }, io) => {
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
  },
};

/** Runs the repair; resolves to the exit code (0 ok, 1 a repair failed, 2 usage). */
export const runRepairDeleted = (argv: readonly string[], io: CommandIo): Promise<number> =>
  runMaintenance(REPAIR_DELETED, argv, io);

if (require.main === module) runAsCommand(runRepairDeleted);
