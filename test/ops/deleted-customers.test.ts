import { randomUUID } from 'node:crypto';
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type RunningMoto, startMoto } from 'cdk-local-cloud';
import {
  applyRepair,
  type DeletedCustomerRepair,
  describeRepair,
  findDeletedCustomers,
} from '../../ops/deleted-customers';
import type { Stores } from '../../ops/maintenance-command';
import { createCustomerTable } from '../local/moto-tables';

jest.setTimeout(60_000);

const BUCKET = 'assets-bucket';
const CONTACTS_BUCKET = 'contacts-bucket';
let moto: RunningMoto;
let dynamodb: DynamoDBClient;
let stores: Stores;
let table = '';
let tables = 0;

beforeAll(async () => {
  moto = await startMoto();
  const config = {
    endpoint: moto.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
  dynamodb = new DynamoDBClient(config);
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  for (const bucket of [BUCKET, CONTACTS_BUCKET]) {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(
      new PutBucketVersioningCommand({
        Bucket: bucket,
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    );
  }
  stores = {
    doc: DynamoDBDocumentClient.from(dynamodb),
    s3,
    tableName: '',
    assetsBucket: BUCKET,
    contactsBucket: CONTACTS_BUCKET,
  };
});

afterAll(async () => {
  stores?.doc.destroy();
  stores?.s3.destroy();
  await moto?.stop();
});

// A table of its own per test; the bucket's keys are per customer, so it is shared.
beforeEach(async () => {
  tables += 1;
  table = (await createCustomerTable(dynamodb, `customers-${tables}`)).name;
  stores = { ...stores, tableName: table };
});

const put = (item: Record<string, unknown>) =>
  stores.doc.send(new PutCommand({ TableName: table, Item: item }));
const putObject = (key: string, body = '{}', metadata?: Record<string, string>) =>
  stores.s3.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, Metadata: metadata }),
  );
const putContact = (id: string) =>
  stores.s3.send(
    new PutObjectCommand({ Bucket: CONTACTS_BUCKET, Key: `contacts/${id}.json`, Body: '{}' }),
  );
const items = async (id: string) =>
  (
    await stores.doc.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `CUSTOMER#${id}` },
        ConsistentRead: true,
      }),
    )
  ).Items ?? [];
const claimOf = async (email: string) =>
  (
    await stores.doc.send(
      new GetCommand({ TableName: table, Key: { pk: `EMAIL#${email}`, sk: 'EMAIL' } }),
    )
  ).Item;
const versionCount = async (key: string, bucket = BUCKET) => {
  const out = await stores.s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  return [...(out.Versions ?? []), ...(out.DeleteMarkers ?? [])].filter((v) => v.Key === key)
    .length;
};

/** What the earlier release could leave of a deleted customer, everywhere. */
const seedOrphan = async () => {
  const id = randomUUID();
  await put({ pk: `CUSTOMER#${id}`, sk: 'MARKETING#CONSENT', consent: 'granted', version: 3 });
  await put({ pk: `CUSTOMER#${id}`, sk: 'NOTIFICATION#WELCOME', status: 'SENT' });
  await put({ pk: `EMAIL#${id}@example.com`, sk: 'EMAIL', customerId: id });
  await putContact(id);
  await putObject(`customers/${id}.json`, '{}', { version: '3' });
  return id;
};

describe('finding what deleted customers left', () => {
  test('finds the orphan, and leaves alone a live customer, a customer deleted since, and a delete marker', async () => {
    const orphan = await seedOrphan();
    const live = randomUUID();
    await put({ pk: `CUSTOMER#${live}`, sk: 'PROFILE', version: 1 });
    await put({ pk: `CUSTOMER#${live}`, sk: 'MARKETING#CONSENT', consent: 'granted', version: 1 });
    await put({ pk: `EMAIL#${live}@example.com`, sk: 'EMAIL', customerId: live });
    await putContact(live);
    await putObject(`customers/${live}.json`, '{}', { version: '1' });
    const deletedSince = randomUUID();
    await put({
      pk: `CUSTOMER#${deletedSince}`,
      sk: 'MARKETING#CONSENT',
      consent: 'revoked',
      version: 2,
      deleted: true,
      expiresAt: 2_000_000_000,
    });
    await putObject(`customers/${deletedSince}.json`, '{}', { version: '2', deleted: 'true' });
    const marked = randomUUID();
    await putObject(`customers/${marked}.json`, '{}', { version: '1' });
    await stores.s3.send(
      new DeleteObjectCommand({ Bucket: BUCKET, Key: `customers/${marked}.json` }),
    );

    const repairs = await findDeletedCustomers(stores);

    const ours: string[] = [orphan, live, deletedSince, marked];
    const mine = repairs.filter((r) => ours.includes(r.customerId));
    expect(mine).toEqual<DeletedCustomerRepair[]>([
      {
        customerId: orphan,
        tombstone: {
          version: 4,
          was: expect.objectContaining({ consent: 'granted', version: 3 }),
        },
        expire: [{ pk: `CUSTOMER#${orphan}`, sk: 'NOTIFICATION#WELCOME' }],
        claims: [{ pk: `EMAIL#${orphan}@example.com`, sk: 'EMAIL' }],
        contactVersions: 1,
        archive: { etag: expect.any(String), version: 3 },
      },
    ]);
    expect(describeRepair(mine[0] as DeletedCustomerRepair)).toBe(
      `${orphan}: tombstone at version 4 (was granted at version 3); expiry on NOTIFICATION#WELCOME; 1 email claim(s) deleted; marketing contact deleted (1 version(s)); archive tombstone over version 3`,
    );
  });

  test('applies the repair: tombstone, expiry, claim, contact and archive', async () => {
    const orphan = await seedOrphan();
    const [repair] = (await findDeletedCustomers(stores)).filter((r) => r.customerId === orphan);

    await applyRepair(stores, repair as DeletedCustomerRepair, new Date());

    const left = await items(orphan);
    expect(left).toEqual([
      expect.objectContaining({ sk: 'MARKETING#CONSENT', consent: 'revoked', deleted: true }),
      expect.objectContaining({ sk: 'NOTIFICATION#WELCOME', status: 'SENT' }),
    ]);
    expect(left.every((item) => typeof item.expiresAt === 'number')).toBe(true);
    expect(await claimOf(`${orphan}@example.com`)).toBeUndefined();
    expect(await versionCount(`contacts/${orphan}.json`, CONTACTS_BUCKET)).toBe(0);
    const head = await stores.s3.send(
      new HeadObjectCommand({ Bucket: BUCKET, Key: `customers/${orphan}.json` }),
    );
    expect(head.Metadata).toMatchObject({ deleted: 'true', version: '4' });
    // A second run finds nothing left to do for it.
    expect((await findDeletedCustomers(stores)).map((r) => r.customerId)).not.toContain(orphan);
  });

  test('writes nothing to the table when the consent record changed since the survey', async () => {
    const orphan = await seedOrphan();
    const [repair] = (await findDeletedCustomers(stores)).filter((r) => r.customerId === orphan);
    await stores.doc.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: `CUSTOMER#${orphan}`, sk: 'MARKETING#CONSENT' },
        UpdateExpression: 'SET version = :v',
        ExpressionAttributeValues: { ':v': 9 },
      }),
    );

    await expect(
      applyRepair(stores, repair as DeletedCustomerRepair, new Date()),
    ).rejects.toBeInstanceOf(TransactionCanceledException);

    expect((await items(orphan)).some((item) => item.expiresAt !== undefined)).toBe(false);
    expect(await claimOf(`${orphan}@example.com`)).toBeDefined();
  });

  test('writes nothing to the table for a customer whose profile appeared since the survey', async () => {
    const orphan = await seedOrphan();
    const [repair] = (await findDeletedCustomers(stores)).filter((r) => r.customerId === orphan);
    await put({ pk: `CUSTOMER#${orphan}`, sk: 'PROFILE', version: 1 });

    await expect(
      applyRepair(stores, repair as DeletedCustomerRepair, new Date()),
    ).rejects.toBeInstanceOf(TransactionCanceledException);

    expect((await items(orphan)).find((item) => item.sk === 'MARKETING#CONSENT')).toMatchObject({
      consent: 'granted',
    });
  });
});
