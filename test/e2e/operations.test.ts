import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { callApi } from 'cdk-local-cloud';
import { contactKey } from '../../lambda/shared/contract';
import {
  eventually,
  type LocalCloud,
  newCustomerInput,
  ownCloud,
  runMoveContacts,
  runRepairDeleted,
} from './local-cloud';
import { exactMarkers, exactVersions, type PipelineQueries, pipelineQueries } from './queries';

/**
 * The one-off operations commands, run as an operator would against a deployed stack: on a
 * cloud of its own, so what they find to repair or move is only what these tests left.
 */
jest.setTimeout(240_000);

const started = ownCloud('operations');
let cloud: LocalCloud;
let q: PipelineQueries;
beforeAll(() => {
  cloud = started();
  q = pipelineQueries(cloud);
});

describe('npm run repair-deleted', () => {
  test('gives what a customer deleted before tombstones left the treatment a deletion gives now, and nothing else', async () => {
    // What a customer deleted by the earlier release could leave: a consent record and a
    // SENT welcome written after the deletion removed the partition, without expiry, an
    // email claim, a contact a late grant wrote, and its archive brought back.
    const orphan = crypto.randomUUID();
    const table = q.tableName;
    const put = (item: Record<string, unknown>) =>
      cloud.documents.send(new PutCommand({ TableName: table, Item: item }));
    await put({
      pk: `CUSTOMER#${orphan}`,
      sk: 'MARKETING#CONSENT',
      consent: 'granted',
      version: 1,
    });
    await put({ pk: `CUSTOMER#${orphan}`, sk: 'NOTIFICATION#WELCOME', status: 'SENT' });
    await put({ pk: `EMAIL#${orphan}@example.com`, sk: 'EMAIL', customerId: orphan });
    const contact = contactKey(orphan);
    for (const body of ['{"v":1}', '{"v":2}']) {
      await cloud.s3.send(
        new PutObjectCommand({ Bucket: q.contactsBucket, Key: contact, Body: body }),
      );
    }
    await cloud.s3.send(
      new PutObjectCommand({
        Bucket: q.bucket,
        Key: `customers/${orphan}.json`,
        Body: '{}',
        Metadata: { version: '1' },
      }),
    );
    // A customer who stays, and one deleted since the upgrade: neither is touched.
    const live = (
      await callApi(cloud, 'POST', '/customers', newCustomerInput({ marketingOptIn: true }))
    ).body as { id: string };
    const gone = (await callApi(cloud, 'POST', '/customers', newCustomerInput())).body as {
      id: string;
    };
    await eventually(
      'the live contact and both archives',
      async () => [
        exactVersions(await q.contactVersionsOf(live.id), contactKey(live.id)).length,
        await q.archiveState(gone.id),
      ],
      ([contacts, archived]) => contacts === 1 && archived === 'customer',
    );
    await callApi(cloud, 'DELETE', `/customers/${gone.id}`, undefined, { 'if-match': '"1"' });
    await eventually(
      'the tombstone',
      () => q.archiveState(gone.id),
      (state) => state === 'tombstone',
    );
    const liveBefore = await q.partitionItems(live.id);

    const dryRun = await runRepairDeleted(cloud, '--dry-run');

    expect(dryRun).toMatchObject({
      code: 0,
      output: expect.stringContaining(
        `would repair ${orphan}: tombstone at version 2 (was granted at version 1); expiry on NOTIFICATION#WELCOME; 1 email claim(s) deleted; marketing contact deleted (2 version(s)); archive tombstone over version 1`,
      ),
    });
    expect(dryRun.output).not.toContain(live.id);
    expect(dryRun.output).not.toContain(gone.id);
    expect(await q.partitionItems(orphan)).toHaveLength(2);
    expect(await q.archiveState(orphan)).toBe('customer');

    const repair = await runRepairDeleted(cloud);

    expect(repair).toMatchObject({
      code: 0,
      output: expect.stringContaining(`repaired ${orphan}:`),
    });
    const items = await q.partitionItems(orphan);
    expect(items).toEqual([
      expect.objectContaining({
        sk: 'MARKETING#CONSENT',
        consent: 'revoked',
        deleted: true,
        version: 2,
      }),
      expect.objectContaining({ sk: 'NOTIFICATION#WELCOME', status: 'SENT' }),
    ]);
    expect(items.every((item) => typeof item.expiresAt === 'number')).toBe(true);
    const claim = await cloud.documents.send(
      new GetCommand({
        TableName: table,
        Key: { pk: `EMAIL#${orphan}@example.com`, sk: 'EMAIL' },
        ConsistentRead: true,
      }),
    );
    expect(claim.Item).toBeUndefined();
    const contactVersions = await q.contactVersionsOf(orphan);
    expect([
      ...exactVersions(contactVersions, contact),
      ...exactMarkers(contactVersions, contact),
    ]).toEqual([]);
    expect(await q.archiveState(orphan)).toBe('tombstone');
    expect(await q.partitionItems(live.id)).toEqual(liveBefore);
    expect(await q.archiveState(live.id)).toBe('customer');

    // Nothing is left to repair.
    const again = await runRepairDeleted(cloud);
    expect(again).toMatchObject({
      code: 0,
      output: expect.stringContaining('repaired 0 deleted customer(s)'),
    });
  });
});

describe('npm run move-contacts', () => {
  test('moves what the earlier release kept under marketing/contacts/: a granted contact copied, the others deleted, nothing left behind', async () => {
    const legacyKey = (id: string) => `marketing/contacts/${id}.json`;
    const bodyOf = async (inBucket: string, key: string) =>
      (
        await cloud.s3.send(new GetObjectCommand({ Bucket: inBucket, Key: key }))
      ).Body?.transformToString();
    const everyEntry = async (inBucket: string, prefix: string) => {
      const out = await q.versionsOf(prefix, inBucket);
      return [...(out.Versions ?? []), ...(out.DeleteMarkers ?? [])];
    };
    // Customers of the earlier release: one opted in, one who opted out since the
    // upgrade (the new release found no contact to delete), and one whose profile is gone.
    const optedIn = (
      await callApi(cloud, 'POST', '/customers', newCustomerInput({ marketingOptIn: true }))
    ).body as Record<string, unknown> & { id: string };
    const optedOut = (
      await callApi(cloud, 'POST', '/customers', newCustomerInput({ marketingOptIn: true }))
    ).body as Record<string, unknown> & { id: string };
    await eventually(
      'both contacts',
      () =>
        Promise.all(
          [optedIn.id, optedOut.id].map(
            async (id) => exactVersions(await q.contactVersionsOf(id), contactKey(id)).length,
          ),
        ),
      (counts) => counts.every((n) => n === 1),
    );
    const earlierContact = await bodyOf(q.contactsBucket, contactKey(optedIn.id));
    // Where the earlier release kept them: in the assets bucket, and only there.
    for (const id of [optedIn.id, optedOut.id]) {
      const versions = exactVersions(await q.contactVersionsOf(id), contactKey(id));
      await cloud.s3.send(
        new DeleteObjectsCommand({
          Bucket: q.contactsBucket,
          Delete: {
            Objects: versions.map((v) => ({ Key: contactKey(id), VersionId: v.VersionId })),
          },
        }),
      );
      await cloud.s3.send(
        new PutObjectCommand({ Bucket: q.bucket, Key: legacyKey(id), Body: earlierContact }),
      );
    }
    const gone = crypto.randomUUID();
    await cloud.s3.send(
      new PutObjectCommand({ Bucket: q.bucket, Key: legacyKey(gone), Body: '{}' }),
    );
    const current = await callApi(cloud, 'GET', `/customers/${optedOut.id}`);
    await callApi(
      cloud,
      'PUT',
      `/customers/${optedOut.id}`,
      { ...newCustomerInput(), email: optedOut.email, marketingOptIn: false },
      { 'if-match': current.headers.get('etag') ?? '' },
    );
    await eventually(
      'the opt-out recorded',
      async () =>
        (await q.partitionItems(optedOut.id)).find((item) => item.sk === 'MARKETING#CONSENT')
          ?.consent,
      (consent) => consent === 'revoked',
    );

    const dryRun = await runMoveContacts(cloud, '--dry-run');

    expect(dryRun.code).toBe(0);
    expect(dryRun.output).toContain(
      `would move ${optedIn.id}: copied to the contacts bucket; 1 old version(s) deleted`,
    );
    expect(dryRun.output).toContain(`would move ${optedOut.id}: not copied (consent revoked)`);
    expect(dryRun.output).toContain(`would move ${gone}: not copied (customer deleted)`);
    expect(await everyEntry(q.bucket, 'marketing/contacts/')).toHaveLength(3);

    const moved = await runMoveContacts(cloud);

    expect(moved).toMatchObject({
      code: 0,
      output: expect.stringContaining('moved 3 contact(s): 1 copied, 2 deleted without a copy'),
    });
    expect(await bodyOf(q.contactsBucket, contactKey(optedIn.id))).toBe(earlierContact);
    expect(exactVersions(await q.contactVersionsOf(optedOut.id), contactKey(optedOut.id))).toEqual(
      [],
    );
    expect(await everyEntry(q.bucket, 'marketing/contacts/')).toEqual([]);
    expect(await runMoveContacts(cloud)).toMatchObject({
      code: 0,
      output: expect.stringContaining('moved 0 contact(s)'),
    });
  });
});
