import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { CfnTemplate, LocalCloudState, PhysicalResource } from 'cdk-local-cloud';
import { type RunningMoto, startMoto } from 'cdk-local-cloud';
import type { CommandIo } from '../../ops/command';
import { applyMove, decideMove, findLegacyContacts } from '../../ops/legacy-contacts';
import type { Stores } from '../../ops/maintenance-command';
import { runMoveContacts } from '../../ops/move-contacts';
import { createCustomerTable } from '../local/moto-tables';
import { synthPipeline } from '../synth';
import { referencedId } from '../template-queries';

/**
 * `npm run move-contacts` against moto: the contacts an earlier release left under
 * `marketing/contacts/` in the assets bucket, each case in buckets and a table of its own.
 */
jest.setTimeout(60_000);

const REGION = 'us-east-1';
let moto: RunningMoto;
let dynamodb: DynamoDBClient;
let s3: S3Client;
let stores: Stores;
let cases = 0;

beforeAll(async () => {
  moto = await startMoto();
  const config = {
    endpoint: moto.endpoint,
    region: REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
  dynamodb = new DynamoDBClient(config);
  s3 = new S3Client({ ...config, forcePathStyle: true });
});

afterAll(async () => {
  dynamodb?.destroy();
  s3?.destroy();
  await moto?.stop();
});

const versionedBucket = async (name: string): Promise<string> => {
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  await s3.send(
    new PutBucketVersioningCommand({
      Bucket: name,
      VersioningConfiguration: { Status: 'Enabled' },
    }),
  );
  return name;
};

beforeEach(async () => {
  cases += 1;
  stores = {
    doc: DynamoDBDocumentClient.from(dynamodb),
    s3,
    tableName: (await createCustomerTable(dynamodb, `customers-${cases}`)).name,
    assetsBucket: await versionedBucket(`assets-${cases}`),
    contactsBucket: await versionedBucket(`contacts-${cases}`),
  };
});

// ---- what an earlier release left, and what is there after ---------------------------------

const legacyKey = (id: string) => `marketing/contacts/${id}.json`;
const newKey = (id: string) => `contacts/${id}.json`;

const putItem = (item: Record<string, unknown>) =>
  stores.doc.send(new PutCommand({ TableName: stores.tableName, Item: item }));

/** A customer as the table holds it: a profile (unless deleted) and a consent record. */
const customer = async ({
  consent,
  version = 1,
  exists = true,
  deleted = false,
}: {
  consent?: 'granted' | 'revoked';
  version?: number;
  exists?: boolean;
  deleted?: boolean;
}): Promise<string> => {
  const id = randomUUID();
  if (exists) await putItem({ pk: `CUSTOMER#${id}`, sk: 'PROFILE', version });
  if (consent) {
    await putItem({
      pk: `CUSTOMER#${id}`,
      sk: 'MARKETING#CONSENT',
      consent,
      version,
      ...(deleted && { deleted: true, expiresAt: 2_000_000_000 }),
    });
  }
  return id;
};

const contactBody = (id: string, email: string) =>
  JSON.stringify({ customerId: id, email, fullName: 'Ada Lovelace', consentVersion: 1 });

const put = (bucket: string, key: string, body: string) =>
  s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }),
  );

/** Every version and delete marker of `key`, newest first. */
const entriesOf = async (bucket: string, key: string) => {
  const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  return [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].filter((e) => e.Key === key);
};

const currentBody = async (bucket: string, key: string) => {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { body: await object.Body?.transformToString(), contentType: object.ContentType };
};

/** Finds, decides and applies, as the command does; resolves to the moves by key. */
const moveAll = async () => {
  const moves = [];
  for (const legacy of await findLegacyContacts(stores)) {
    moves.push(await applyMove(stores, await decideMove(stores, legacy)));
  }
  return moves;
};

// ---- the move -------------------------------------------------------------------------------

describe('moving the contacts out of the assets bucket', () => {
  test('copies the current version of a contact whose consent still grants, then deletes every old version and delete marker', async () => {
    const id = await customer({ consent: 'granted', version: 2 });
    await put(stores.assetsBucket, legacyKey(id), contactBody(id, 'old@example.com'));
    await s3.send(new DeleteObjectCommand({ Bucket: stores.assetsBucket, Key: legacyKey(id) }));
    await put(stores.assetsBucket, legacyKey(id), contactBody(id, 'ada@example.com'));

    const moves = await moveAll();

    expect(moves).toEqual([
      expect.objectContaining({ customerId: id, decision: 'copy', entries: 3 }),
    ]);
    expect(await currentBody(stores.contactsBucket, newKey(id))).toEqual({
      body: contactBody(id, 'ada@example.com'),
      contentType: 'application/json',
    });
    expect(await entriesOf(stores.contactsBucket, newKey(id))).toHaveLength(1);
    expect(await entriesOf(stores.assetsBucket, legacyKey(id))).toEqual([]);
  });

  test.each([
    ['consent revoked', { consent: 'revoked' as const, version: 2 }, 'revoked'],
    [
      'a deleted customer’s tombstone',
      { consent: 'revoked' as const, version: 2, exists: false, deleted: true },
      'customer-deleted',
    ],
    [
      'a customer gone, consent granted',
      { consent: 'granted' as const, exists: false },
      'customer-deleted',
    ],
    ['no consent record', {}, 'no-consent-record'],
  ])('copies nothing for %s, and deletes the old contact', async (_case, state, decision) => {
    const id = await customer(state);
    await put(stores.assetsBucket, legacyKey(id), contactBody(id, 'ada@example.com'));
    await put(stores.assetsBucket, legacyKey(id), contactBody(id, 'ada@example.com'));

    const moves = await moveAll();

    expect(moves).toEqual([expect.objectContaining({ customerId: id, decision, entries: 2 })]);
    expect(await entriesOf(stores.contactsBucket, newKey(id))).toEqual([]);
    expect(await entriesOf(stores.assetsBucket, legacyKey(id))).toEqual([]);
  });

  test('keeps the contact the marketing function wrote since the upgrade, and deletes the old one', async () => {
    const id = await customer({ consent: 'granted', version: 3 });
    await put(stores.assetsBucket, legacyKey(id), contactBody(id, 'old@example.com'));
    await put(stores.contactsBucket, newKey(id), contactBody(id, 'new@example.com'));

    const moves = await moveAll();

    expect(moves).toEqual([expect.objectContaining({ customerId: id, decision: 'already-there' })]);
    expect((await currentBody(stores.contactsBucket, newKey(id))).body).toBe(
      contactBody(id, 'new@example.com'),
    );
    expect(await entriesOf(stores.contactsBucket, newKey(id))).toHaveLength(1);
    expect(await entriesOf(stores.assetsBucket, legacyKey(id))).toEqual([]);
  });

  test('copies nothing when a delete marker is current, and deletes what is behind it', async () => {
    const id = await customer({ consent: 'granted' });
    await put(stores.assetsBucket, legacyKey(id), contactBody(id, 'ada@example.com'));
    await s3.send(new DeleteObjectCommand({ Bucket: stores.assetsBucket, Key: legacyKey(id) }));

    const moves = await moveAll();

    expect(moves).toEqual([
      expect.objectContaining({ customerId: id, decision: 'no-current-version', entries: 2 }),
    ]);
    expect(await entriesOf(stores.contactsBucket, newKey(id))).toEqual([]);
    expect(await entriesOf(stores.assetsBucket, legacyKey(id))).toEqual([]);
  });

  test('deletes a key under the old prefix that names no contact, and leaves the rest of the bucket alone', async () => {
    await put(stores.assetsBucket, 'marketing/contacts/export.csv', 'id,email');
    await put(stores.assetsBucket, 'customers/kept.json', '{}');
    await put(stores.assetsBucket, 'marketing/other.json', '{}');

    const moves = await moveAll();

    expect(moves).toEqual([
      expect.objectContaining({ key: 'marketing/contacts/export.csv', decision: 'not-a-contact' }),
    ]);
    expect(await entriesOf(stores.assetsBucket, 'marketing/contacts/export.csv')).toEqual([]);
    expect(await entriesOf(stores.assetsBucket, 'customers/kept.json')).toHaveLength(1);
    expect(await entriesOf(stores.assetsBucket, 'marketing/other.json')).toHaveLength(1);
  });

  test('undoes the copy when a revoke was recorded between the decision and the copy', async () => {
    const id = await customer({ consent: 'granted' });
    await put(stores.assetsBucket, legacyKey(id), contactBody(id, 'ada@example.com'));
    const [legacy] = await findLegacyContacts(stores);
    const planned = await decideMove(stores, legacy as NonNullable<typeof legacy>);
    expect(planned.decision).toBe('copy');
    // The marketing function records the opt-out, then finds nothing to delete in the
    // contacts bucket: the copy is not there yet.
    await putItem({
      pk: `CUSTOMER#${id}`,
      sk: 'MARKETING#CONSENT',
      consent: 'revoked',
      version: 2,
    });

    const moved = await applyMove(stores, planned);

    expect(moved.decision).toBe('revoked');
    expect(await entriesOf(stores.contactsBucket, newKey(id))).toEqual([]);
    expect(await entriesOf(stores.assetsBucket, legacyKey(id))).toEqual([]);
  });

  test('never overwrites a contact the marketing function wrote between the decision and the copy', async () => {
    const id = await customer({ consent: 'granted' });
    await put(stores.assetsBucket, legacyKey(id), contactBody(id, 'old@example.com'));
    const [legacy] = await findLegacyContacts(stores);
    const planned = await decideMove(stores, legacy as NonNullable<typeof legacy>);
    expect(planned.decision).toBe('copy');
    await put(stores.contactsBucket, newKey(id), contactBody(id, 'new@example.com'));

    const moved = await applyMove(stores, planned);

    expect(moved.decision).toBe('already-there');
    expect((await currentBody(stores.contactsBucket, newKey(id))).body).toBe(
      contactBody(id, 'new@example.com'),
    );
    expect(await entriesOf(stores.contactsBucket, newKey(id))).toHaveLength(1);
  });

  test('is idempotent: a second run finds nothing and copies nothing again', async () => {
    const id = await customer({ consent: 'granted' });
    await put(stores.assetsBucket, legacyKey(id), contactBody(id, 'ada@example.com'));
    await moveAll();

    expect(await moveAll()).toEqual([]);
    expect(await entriesOf(stores.contactsBucket, newKey(id))).toHaveLength(1);
  });
});

// ---- the command ----------------------------------------------------------------------------

describe('npm run move-contacts', () => {
  let workDir: string;
  let stateFile: string;
  let template: CfnTemplate;
  beforeAll(async () => {
    template = synthPipeline('dev').template.toJSON() as CfnTemplate;
    workDir = await mkdtemp(path.join(tmpdir(), 'move-contacts-test-'));
  });
  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  /** A local cloud state naming this case's table and buckets by the template's outputs. */
  beforeEach(async () => {
    const physical: Record<string, string> = {
      TableName: stores.tableName,
      AssetsBucketName: stores.assetsBucket,
      MarketingContactsBucketName: stores.contactsBucket,
    };
    const resources: Record<string, PhysicalResource> = {};
    for (const [output, ref] of Object.entries(physical)) {
      const logicalId = referencedId(template.Outputs?.[output]?.Value) ?? output;
      const type = template.Resources[logicalId]?.Type ?? '';
      resources[logicalId] = { logicalId, type, ref, attributes: {} };
    }
    const dir = path.join(workDir, `case-${cases}`);
    await mkdir(path.join(dir, 'cdk.out'), { recursive: true });
    const templateFile = path.join(dir, 'cdk.out', 'CustomerPipeline-dev.template.json');
    await writeFile(templateFile, JSON.stringify(template));
    const state: LocalCloudState = {
      stackName: 'CustomerPipeline-dev',
      region: REGION,
      accountId: '123456789012',
      endpoint: moto.endpoint,
      apiUrl: 'http://127.0.0.1:1',
      sidecars: {},
      controlUrl: 'http://127.0.0.1:1',
      timeScale: 1,
      templateFile,
      resources,
      pid: process.pid,
    };
    stateFile = path.join(dir, 'state.json');
    await writeFile(stateFile, JSON.stringify(state));
  });

  const run = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CommandIo = {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: {},
      cwd: workDir,
    };
    const code = await runMoveContacts([...argv, '--state-file', stateFile], io);
    return { code, out, err };
  };

  const seed = async () => {
    const kept = await customer({ consent: 'granted' });
    const revoked = await customer({ consent: 'revoked', version: 2 });
    const rewritten = await customer({ consent: 'granted', version: 2 });
    for (const id of [kept, revoked, rewritten]) {
      await put(stores.assetsBucket, legacyKey(id), contactBody(id, `${id}@example.com`));
    }
    // Written by the marketing function since the upgrade.
    await put(stores.contactsBucket, newKey(rewritten), contactBody(rewritten, 'new@example.com'));
    return { kept, revoked, rewritten };
  };

  test('--dry-run says, per contact, what it would do, and changes nothing', async () => {
    const { kept, revoked, rewritten } = await seed();

    const { code, out, err } = await run('--dry-run');

    expect({ code, err }).toEqual({ code: 0, err: [] });
    const byKey = (line: string) => line.split(' ')[2] ?? '';
    expect(out.slice(1)).toEqual([
      ...[
        `would move ${kept}: copied to the contacts bucket; 1 old version(s) deleted`,
        `would move ${revoked}: not copied (consent revoked); 1 old version(s) deleted`,
        `would move ${rewritten}: not copied (the contacts bucket has it already); 1 old version(s) deleted`,
      ].sort((a, b) => byKey(a).localeCompare(byKey(b))),
      'would move 3 contact(s): 1 copied, 2 deleted without a copy (dry run)',
    ]);
    expect(await entriesOf(stores.assetsBucket, legacyKey(kept))).toHaveLength(1);
    expect(await entriesOf(stores.assetsBucket, legacyKey(revoked))).toHaveLength(1);
    expect(await entriesOf(stores.contactsBucket, newKey(kept))).toEqual([]);
  });

  test('moves the contacts, printing ids and counts and never an address; a second run moves nothing', async () => {
    const { kept, revoked, rewritten } = await seed();

    const first = await run();

    expect(first).toMatchObject({ code: 0, err: [] });
    expect(first.out).toContain(
      `moved ${kept}: copied to the contacts bucket; 1 old version(s) deleted`,
    );
    expect(first.out).toContain(
      `moved ${revoked}: not copied (consent revoked); 1 old version(s) deleted`,
    );
    expect(first.out).toContain(
      `moved ${rewritten}: not copied (the contacts bucket has it already); 1 old version(s) deleted`,
    );
    expect(first.out.join('\n')).not.toContain('@example.com');
    expect((await currentBody(stores.contactsBucket, newKey(rewritten))).body).toBe(
      contactBody(rewritten, 'new@example.com'),
    );
    expect(await entriesOf(stores.contactsBucket, newKey(kept))).toHaveLength(1);
    expect(await entriesOf(stores.contactsBucket, newKey(revoked))).toEqual([]);
    expect(await entriesOf(stores.assetsBucket, legacyKey(kept))).toEqual([]);

    const again = await run();

    expect(again).toMatchObject({ code: 0, err: [] });
    expect(again.out.slice(1)).toEqual(['moved 0 contact(s): 0 copied, 0 deleted without a copy']);
  });

  test('refuses an unknown option (exit 2), with the usage', async () => {
    const { code, err } = await run('--dryrun');

    expect(code).toBe(2);
    expect(err.join('\n')).toContain('usage: npm run move-contacts');
  });
});
