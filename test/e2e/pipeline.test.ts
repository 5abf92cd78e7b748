import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { AwsCall } from 'cdk-local-cloud';
import { callApi, control, deliveries } from 'cdk-local-cloud';
import { contactKey } from '../../lambda/shared/contract';
import { emailClaimKey } from '../../lambda/shared/domain/keys';
import { sinkCalls } from '../../local/notification-sink';
import { decodedSize, detailedImage } from '../images';
import {
  connect,
  eventually,
  type LocalCloud,
  newCustomerInput,
  resourceNamed,
  runCommand,
  runMoveContacts,
  runRepairDeleted,
  welcomeCallsFor,
} from './local-cloud';
import {
  customerEvent,
  exactMarkers,
  exactVersions,
  type PipelineQueries,
  pipelineQueries,
} from './queries';

/**
 * The pipeline, end to end, on the suite's local cloud: the synthesized template, the
 * bundled functions, the emulator; then the operations commands run against it as an
 * operator would, after the scenarios, so what they find to repair or move is only what
 * their tests left. The scenarios that wait on redeliveries, load the pipeline, or count
 * what is left in its queues run in files of their own, each on a cloud of its own.
 */
jest.setTimeout(240_000);

let cloud: LocalCloud;
let q: PipelineQueries;
beforeAll(() => {
  cloud = connect();
  q = pipelineQueries(cloud);
});

describe('a customer’s life', () => {
  let optedIn: { id: string; email: string };
  let optedOut: { id: string };

  test('create: one welcome call carrying the secret, one archive version, a contact only for the opted-in', async () => {
    const [a, b] = await Promise.all([
      callApi(cloud, 'POST', '/customers', newCustomerInput({ marketingOptIn: true })),
      callApi(cloud, 'POST', '/customers', newCustomerInput({ marketingOptIn: false })),
    ]);
    expect([a?.status, b?.status]).toEqual([201, 201]);
    optedIn = a?.body as { id: string; email: string };
    optedOut = b?.body as { id: string };

    for (const id of [optedIn.id, optedOut.id]) {
      await eventually(
        `archive of ${id}`,
        () => q.versionsOf(`customers/${id}.json`),
        (out) => exactVersions(out, `customers/${id}.json`).length === 1,
      );
    }
    const calls = await eventually(
      'both welcome calls',
      () => sinkCalls(cloud),
      (all) => [optedIn.id, optedOut.id].every((id) => welcomeCallsFor(all, id).length > 0),
    );
    await eventually(
      'the opted-in contact',
      () => q.contactVersionsOf(optedIn.id),
      (out) => exactVersions(out, contactKey(optedIn.id)).length === 1,
    );

    const secretArn = resourceNamed(cloud, 'notification', 'secret').ref;
    const { SecretString } = await cloud.secrets.send(
      new GetSecretValueCommand({ SecretId: secretArn }),
    );
    for (const id of [optedIn.id, optedOut.id]) {
      const welcome = welcomeCallsFor(calls, id);
      expect(welcome).toHaveLength(1);
      expect(welcome[0]?.bearerToken).toBe(SecretString);
      expect(welcome[0]?.idempotencyKey).toEqual(expect.any(String));
    }
    const noContact = await q.contactVersionsOf(optedOut.id);
    expect(exactVersions(noContact, contactKey(optedOut.id))).toHaveLength(0);
    // Nothing more arrives later: still exactly one welcome each.
    const again = await sinkCalls(cloud);
    expect(welcomeCallsFor(again, optedIn.id)).toHaveLength(1);
  });

  test('update: a new archive version, and opting out removes every version of the contact', async () => {
    const current = await callApi(cloud, 'GET', `/customers/${optedIn.id}`);
    const updated = await callApi(
      cloud,
      'PUT',
      `/customers/${optedIn.id}`,
      {
        fullName: 'Renamed Customer',
        email: optedIn.email,
        dateOfBirth: '1990-05-17',
        marketingOptIn: false,
      },
      { 'if-match': current.headers.get('etag') ?? '' },
    );
    expect(updated.status).toBe(200);

    const archive = await eventually(
      'the second archive version',
      () => q.versionsOf(`customers/${optedIn.id}.json`),
      (out) => exactVersions(out, `customers/${optedIn.id}.json`).length === 2,
    );
    expect(exactMarkers(archive, `customers/${optedIn.id}.json`)).toHaveLength(0);
    await eventually(
      'no trace of the contact',
      () => q.contactVersionsOf(optedIn.id),
      (out) =>
        exactVersions(out, contactKey(optedIn.id)).length === 0 &&
        exactMarkers(out, contactKey(optedIn.id)).length === 0,
    );
  });

  test('delete: a tombstone version over the kept history, a tombstone record, and the email can be used again', async () => {
    const current = await callApi(cloud, 'GET', `/customers/${optedIn.id}`);
    const deleted = await callApi(cloud, 'DELETE', `/customers/${optedIn.id}`, undefined, {
      'if-match': current.headers.get('etag') ?? '',
    });
    expect(deleted.status).toBe(204);

    await eventually(
      'the archive tombstone',
      () => q.archiveState(optedIn.id),
      (state) => state === 'tombstone',
    );
    const archive = await q.versionsOf(`customers/${optedIn.id}.json`);
    expect(exactVersions(archive, `customers/${optedIn.id}.json`)).toHaveLength(3);
    expect(exactMarkers(archive, `customers/${optedIn.id}.json`)).toHaveLength(0);
    expect((await callApi(cloud, 'GET', `/customers/${optedIn.id}`)).status).toBe(404);
    const items = await q.partitionItems(optedIn.id);
    expect(items).toEqual([
      expect.objectContaining({ sk: 'MARKETING#CONSENT', deleted: true, consent: 'revoked' }),
    ]);
    expect(items[0]?.expiresAt).toEqual(expect.any(Number));

    const reused = await callApi(
      cloud,
      'POST',
      '/customers',
      newCustomerInput({ email: optedIn.email }),
    );
    expect(reused.status).toBe(201);
  });
});

describe('the HTTP edge', () => {
  test('an email in the path is decoded once, as API Gateway does: %40 finds the customer, %2540 is no email', async () => {
    const input = newCustomerInput();
    const created = await callApi(cloud, 'POST', '/customers', input);
    expect(created.status).toBe(201);
    const [local, domain] = input.email.split('@');

    const found = await callApi(cloud, 'GET', `/customers/${local}%40${domain}`);
    const doubly = await callApi(cloud, 'GET', `/customers/${local}%2540${domain}`);

    expect(found.status).toBe(200);
    expect((found.body as { id: string }).id).toBe((created.body as { id: string }).id);
    expect(doubly.status).toBe(400);
  });

  test('every route requires SigV4, as API Gateway’s AWS_IAM authorization does: unsigned is 403 Forbidden', async () => {
    const unsigned = await callApi(
      cloud,
      'POST',
      '/customers',
      newCustomerInput(),
      {},
      { unsigned: true },
    );
    expect(unsigned).toMatchObject({ status: 403, body: { message: 'Forbidden' } });
    const signed = await callApi(cloud, 'GET', `/customers/${crypto.randomUUID()}`);
    expect(signed.status).toBe(404);
  });

  test('a malformed If-Match is 400, not 412', async () => {
    const created = await callApi(cloud, 'POST', '/customers', newCustomerInput());
    const { id } = created.body as { id: string };

    const response = await callApi(cloud, 'DELETE', `/customers/${id}`, undefined, {
      'if-match': '1',
    });

    expect(response.status).toBe(400);
    expect((await callApi(cloud, 'GET', `/customers/${id}`)).status).toBe(200);
  });
});

describe('avatar uploads', () => {
  const functionNamed = (name: string) => resourceNamed(cloud, name, 'function').logicalId;
  const callsBy = async (caller: string) =>
    ((await control(cloud, 'GET', '/calls')) as { calls: AwsCall[] }).calls
      .filter((call) => call.caller === caller)
      .map((call) => `${call.service} ${call.operation}`);

  /** A browser's upload through a presigned form: its fields, then the file. */
  const post = (
    form: { url: string; fields: Record<string, string> },
    file: Uint8Array,
    changes: Record<string, string> = {},
  ) => {
    const body = new FormData();
    for (const [name, value] of Object.entries({ ...form.fields, ...changes })) {
      body.append(name, value);
    }
    body.append('file', new Blob([file]), 'avatar.png');
    return fetch(form.url, { method: 'POST', body });
  };

  const png = (width: number, height: number) => detailedImage(width, height, 'png');

  const newCustomer = async () => {
    const created = await callApi(cloud, 'POST', '/customers', newCustomerInput());
    expect(created.status).toBe(201);
    return created.body as { id: string; version: number };
  };
  const uploadForm = async (id: string, contentType = 'image/png') => {
    const upload = await callApi(cloud, 'POST', `/customers/${id}/avatar-upload`, { contentType });
    expect(upload.status).toBe(200);
    return upload.body as { url: string; fields: Record<string, string>; maxBytes: number };
  };
  /** Every version and delete marker under `prefix`, by key. */
  const leftUnder = async (prefix: string) => {
    const listed = await q.versionsOf(prefix);
    return [...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])].map((v) => v.Key);
  };

  test('the avatar upload function, not the API function, presigns a POST to avatar-uploads/<id> whose policy S3 enforces', async () => {
    const avatarUploadFunction = functionNamed('avatar-upload');
    const apiFunction = functionNamed('api');
    const { id } = await newCustomer();
    const apiCallsBefore = (await callsBy(apiFunction)).length;

    const form = await uploadForm(id);

    expect(form.fields).toMatchObject({ key: `avatar-uploads/${id}`, 'Content-Type': 'image/png' });
    expect(await callsBy(avatarUploadFunction)).toEqual(['dynamodb GetItem']);
    expect(await callsBy(apiFunction)).toHaveLength(apiCallsBefore);

    // What the policy refuses, S3 refuses, and stores nothing: a file over the limit, another type.
    const tooLarge = await post(form, new Uint8Array(form.maxBytes + 1));
    expect(tooLarge.status).toBe(400);
    expect(await tooLarge.text()).toContain('EntityTooLarge');
    const mistyped = await post(form, new TextEncoder().encode('<html></html>'), {
      'Content-Type': 'text/html',
    });
    expect(mistyped.status).toBe(403);
    expect(await leftUnder(`avatar-uploads/${id}`)).toEqual([]);
  });

  test('a PNG through the form becomes the customer’s 256 px avatar: a new version, a redirect to the image, and the upload gone', async () => {
    const { id, version } = await newCustomer();
    const form = await uploadForm(id);

    const stored = await post(form, png(600, 300));

    expect(stored.status).toBe(204);
    // S3 checks a presigned request against the role that signed it, and so does the local
    // cloud: the upload function's proxy carried it.
    expect(await callsBy(functionNamed('avatar-upload'))).toContain('s3 PostObject');
    const customer = await eventually(
      'the avatar on the customer',
      async () => (await callApi(cloud, 'GET', `/customers/${id}`)).body as Record<string, unknown>,
      (body) => body.avatar !== undefined,
    );
    expect(customer.avatar).toMatchObject({
      key: `avatars/${id}.jpg`,
      contentType: 'image/jpeg',
      width: 256,
      height: 128,
    });
    expect(customer.version).toBe(version + 1);

    const redirect = await callApi(cloud, 'GET', `/customers/${id}/avatar`);
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get('location') ?? '';
    const image = await fetch(location);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/jpeg');
    expect(decodedSize(new Uint8Array(await image.arrayBuffer()))).toEqual({
      width: 256,
      height: 128,
    });
    // Deleted by version: no version and no delete marker left of the upload.
    await eventually(
      'the upload deleted',
      () => leftUnder(`avatar-uploads/${id}`),
      (left) => left.length === 0,
    );
    // The change is a customer change: the archive keeps the version with the avatar.
    await eventually(
      'the archived version with the avatar',
      () => q.versionsOf(`customers/${id}.json`),
      (out) => exactVersions(out, `customers/${id}.json`).length === 2,
    );
  });

  test('an HTML file declared image/png is rejected from its first bytes, and leaves nothing', async () => {
    const { id, version } = await newCustomer();
    const form = await uploadForm(id);

    const stored = await post(form, new TextEncoder().encode('<!doctype html><script>1</script>'));

    expect(stored.status).toBe(204);
    await eventually(
      'the upload deleted',
      () => leftUnder(`avatar-uploads/${id}`),
      (left) => left.length === 0,
    );
    expect(await leftUnder(`avatars/${id}`)).toEqual([]);
    const customer = (await callApi(cloud, 'GET', `/customers/${id}`)).body as Record<
      string,
      unknown
    >;
    expect(customer).not.toHaveProperty('avatar');
    expect(customer.version).toBe(version);
    expect((await callApi(cloud, 'GET', `/customers/${id}/avatar`)).status).toBe(404);
  });

  test('a PNG whose data does not decode is rejected, its environment retired, and the next upload published', async () => {
    const uploadsQueue = resourceNamed(cloud, 'avatar-uploads', 'queue').logicalId;
    const uploadDeliveries = async () =>
      (await deliveries(cloud)).filter((d) => d.queue === uploadsQueue);
    const before = new Set((await uploadDeliveries()).map((d) => d.messageId));
    const broken = await newCustomer();
    const whole = png(64, 64);
    // A valid header over data cut short: it passes inspection, and the decoder traps.
    await post(await uploadForm(broken.id), whole.slice(0, 60));
    await eventually(
      'the broken upload deleted',
      () => leftUnder(`avatar-uploads/${broken.id}`),
      (left) => left.length === 0,
    );
    // The invocation that rejected it exited (Runtime.ExitError), so SQS handed the message out
    // again after its visibility timeout; the redelivery found the upload gone.
    const attempts = await eventually(
      'the redelivery of the broken upload',
      async () => (await uploadDeliveries()).filter((d) => !before.has(d.messageId)),
      (found) => found.some((d) => d.outcome === 'succeeded'),
    );
    expect(attempts.map((d) => [d.receiveCount, d.outcome])).toEqual([
      [1, 'failed'],
      [2, 'succeeded'],
    ]);

    const next = await newCustomer();
    await post(await uploadForm(next.id), whole);

    await eventually(
      'the next avatar',
      async () =>
        (await callApi(cloud, 'GET', `/customers/${next.id}`)).body as { avatar?: unknown },
      (body) => body.avatar !== undefined,
    );
    const customer = (await callApi(cloud, 'GET', `/customers/${broken.id}`)).body as object;
    expect(customer).not.toHaveProperty('avatar');
    expect(await leftUnder(`avatars/${broken.id}`)).toEqual([]);
  });

  test('deleting the customer erases every version of every avatar key, the legacy one included', async () => {
    const { id } = await newCustomer();
    await post(await uploadForm(id), png(40, 40));
    const withAvatar = await eventually(
      'the avatar on the customer',
      async () =>
        (await callApi(cloud, 'GET', `/customers/${id}`)).body as {
          version: number;
          avatar?: unknown;
        },
      (body) => body.avatar !== undefined,
    );
    // What the presigned PUT of earlier releases left, twice over.
    for (const body of ['old', 'older']) {
      await cloud.s3.send(
        new PutObjectCommand({ Bucket: q.bucket, Key: `avatars/${id}`, Body: body }),
      );
    }
    expect((await leftUnder(`avatars/${id}`)).length).toBe(3);

    const deleted = await callApi(cloud, 'DELETE', `/customers/${id}`, undefined, {
      'if-match': `"${withAvatar.version}"`,
    });

    expect(deleted.status).toBe(204);
    await eventually(
      'no avatar object or version left',
      async () => [
        ...(await leftUnder(`avatars/${id}`)),
        ...(await leftUnder(`avatar-uploads/${id}`)),
      ],
      (left) => left.length === 0,
    );
  });

  test('a content type that is not an avatar format gets 422 and no form', async () => {
    const created = await callApi(cloud, 'POST', '/customers', newCustomerInput());
    const { id } = created.body as { id: string };

    const response = await callApi(cloud, 'POST', `/customers/${id}/avatar-upload`, {
      contentType: 'image/svg+xml',
    });

    expect(response.status).toBe(422);
    expect(response.body).not.toHaveProperty('url');
  });

  test('an unknown customer gets 404 and no upload form', async () => {
    const response = await callApi(
      cloud,
      'POST',
      '/customers/00000000-0000-4000-8000-000000000000/avatar-upload',
      { contentType: 'image/png' },
    );

    expect(response.status).toBe(404);
    expect(response.body).not.toHaveProperty('url');
  });
});

describe('duplicates and races', () => {
  test('the same event delivered twice sends one welcome', async () => {
    const created = await callApi(cloud, 'POST', '/customers', newCustomerInput());
    const customer = created.body as Record<string, unknown> & { id: string };
    const [first] = await eventually(
      'the welcome call',
      async () => welcomeCallsFor(await sinkCalls(cloud), customer.id),
      (calls) => calls.length === 1,
    );
    const welcomeQueue = resourceNamed(cloud, 'welcome', 'queue');
    const event = JSON.stringify(
      customerEvent('CustomerCreated', customer, first?.idempotencyKey ?? ''),
    );
    const redelivered = await Promise.all(
      [1, 2].map(() =>
        cloud.sqs.send(
          new SendMessageCommand({
            QueueUrl: welcomeQueue.ref,
            MessageBody: event,
            MessageAttributes: {
              MessageType: { DataType: 'String', StringValue: 'CustomerCreated' },
            },
          }),
        ),
      ),
    );
    const ids = redelivered.map((r) => r.MessageId);
    await eventually(
      'both redeliveries handled',
      async () =>
        (await deliveries(cloud)).filter(
          (d) => ids.includes(d.messageId) && d.outcome === 'succeeded',
        ),
      (ds) => ds.length === 2,
    );
    expect(welcomeCallsFor(await sinkCalls(cloud), customer.id)).toHaveLength(1);
  });

  test('20 concurrent creates with one email: one 201, nineteen 409s, one claim', async () => {
    const input = newCustomerInput();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => callApi(cloud, 'POST', '/customers', input)),
    );
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([201, ...Array(19).fill(409)]);
    const winner = responses.find((r) => r.status === 201)?.body as { id: string };
    const table = resourceNamed(cloud, 'customers', 'table').ref;
    const claim = await cloud.documents.send(
      new GetCommand({
        TableName: table,
        Key: { pk: `EMAIL#${input.email}`, sk: 'EMAIL' },
        ConsistentRead: true,
      }),
    );
    expect(claim.Item?.customerId).toBe(winner.id);
    // Its event goes round like any other: one welcome.
    await eventually(
      'the winner’s welcome',
      async () => welcomeCallsFor(await sinkCalls(cloud), winner.id),
      (calls) => calls.length === 1,
    );
  });

  test('20 concurrent PUTs with one If-Match: one 200, nineteen 412s, one new version', async () => {
    const input = newCustomerInput();
    const created = await callApi(cloud, 'POST', '/customers', input);
    const { id } = created.body as { id: string };
    const ifMatch = created.headers.get('etag') ?? '';

    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        callApi(
          cloud,
          'PUT',
          `/customers/${id}`,
          { ...input, fullName: `Racer ${n}` },
          { 'if-match': ifMatch },
        ),
      ),
    );

    expect(responses.map((r) => r.status).sort()).toEqual([200, ...Array(19).fill(412)]);
    const winner = responses.find((r) => r.status === 200)?.body as { fullName: string };
    const now = await callApi(cloud, 'GET', `/customers/${id}`);
    expect(now.body).toMatchObject({ fullName: winner.fullName, version: 2 });
  });

  test('two customers changing to one new email at once: one 200, one 409, the claim the winner’s', async () => {
    const inputs = [newCustomerInput(), newCustomerInput()];
    const created = await Promise.all(
      inputs.map((input) => callApi(cloud, 'POST', '/customers', input)),
    );
    const email = newCustomerInput().email;

    const responses = await Promise.all(
      created.map((c, n) =>
        callApi(
          cloud,
          'PUT',
          `/customers/${(c.body as { id: string }).id}`,
          { ...inputs[n], email },
          { 'if-match': c.headers.get('etag') ?? '' },
        ),
      ),
    );

    expect(responses.map((r) => r.status).sort()).toEqual([200, 409]);
    const won = responses.findIndex((r) => r.status === 200);
    const winner = created[won]?.body as { id: string };
    const loser = inputs[1 - won];
    const claim = await cloud.documents.send(
      new GetCommand({
        TableName: resourceNamed(cloud, 'customers', 'table').ref,
        Key: emailClaimKey(email),
        ConsistentRead: true,
      }),
    );
    expect(claim.Item?.customerId).toBe(winner.id);
    // The winner let go of its old address; the loser kept its own.
    expect((await callApi(cloud, 'GET', `/customers/${inputs[won]?.email}`)).status).toBe(404);
    expect((await callApi(cloud, 'GET', `/customers/${loser?.email}`)).status).toBe(200);
  });
});

describe('npm run demo', () => {
  test('settles, finding each consumer’s work where that consumer keeps it', async () => {
    const demo = await runCommand(cloud, 'local/demo.ts', '--timeout', '60');

    expect(demo).toMatchObject({ code: 0, output: expect.stringContaining('settled in') });
    expect(demo.output).toContain('marketing: contact kept (2 versions)');
    expect(demo.output).not.toContain('still missing');
  });
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
