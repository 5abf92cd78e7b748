import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import {
  ConditionalCheckFailedException,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { SQSBatchResponse } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import type { Avatar } from '../../lambda/shared/domain/customer';
import { decodedSize, detailedImage, plainPng } from '../images';
import { captureEmf, metricsEnvironment } from './emf';
import { apiEvent, bodyOf, ID, stored, storedItem } from './http-fixtures';
import { type WithContext, withContext } from './lambda-context';
import { batch, eventRecord, sqsRecord } from './sqs-fixtures';

const TABLE_NAME = 'customers-table';
const BUCKET = 'assets-bucket';
const UPLOADS_QUEUE_ARN = 'arn:aws:sqs:eu-west-1:123456789012:avatar-uploads';
const EVENTS_QUEUE_ARN = 'arn:aws:sqs:eu-west-1:123456789012:avatar';
const MAX_BYTES = 5 * 1024 * 1024;
process.env.TABLE_NAME = TABLE_NAME;
process.env.BUCKET_NAME = BUCKET;
process.env.UPLOADS_QUEUE_ARN = UPLOADS_QUEUE_ARN;
process.env.AVATAR_MAX_BYTES = String(MAX_BYTES);
// Presigning the redirect runs for real: credentials and a region, never the network.
process.env.AWS_REGION = 'eu-west-1';
metricsEnvironment('avatar');
const emf = captureEmf();
process.env.AWS_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

type HandlerModule = typeof import('../../lambda/avatar/handler');
let handler: WithContext<HandlerModule['handler']>;

beforeAll(() => {
  handler = withContext(jest.requireActual<HandlerModule>('../../lambda/avatar/handler').handler);
});

const ddb = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);
let logged: jest.SpyInstance;
let loggedErrors: jest.SpyInstance;

beforeEach(() => {
  logged = jest.spyOn(Logger.prototype, 'info').mockImplementation(() => undefined);
  loggedErrors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
});

afterEach(() => {
  ddb.reset();
  s3.reset();
  jest.restoreAllMocks();
});

// ---- Real images, made here ------------------------------------------------------------------

const image = detailedImage;
/** A PNG header claiming `width` × `height` over one pixel of data. */
const pngHeader = (width: number, height: number) => plainPng(1, 1, { width, height });

const HTML = new TextEncoder().encode('<!doctype html><script>alert(1)</script>');

// ---- Messages ----------------------------------------------------------------------------------

const UPLOAD_KEY = `avatar-uploads/${ID}`;
const PUBLISHED_KEY = `avatars/${ID}.jpg`;
/** As S3 writes it: 16 to 18 hex digits. */
const SEQUENCER = '0062E99A88DC407460';
const PADDED = SEQUENCER.padStart(32, '0');

const notification = (
  overrides: { key?: string; versionId?: string; sequencer?: string; size?: number } = {},
) =>
  JSON.stringify({
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        eventName: 'ObjectCreated:Post',
        s3: {
          bucket: { name: BUCKET, arn: `arn:aws:s3:::${BUCKET}` },
          object: {
            key: overrides.key ?? UPLOAD_KEY,
            size: overrides.size ?? 1000,
            versionId: overrides.versionId ?? 'v-upload-1',
            sequencer: overrides.sequencer ?? SEQUENCER,
          },
        },
      },
    ],
  });

const uploadRecord = (body = notification(), messageId = 'msg-upload-1') => ({
  ...sqsRecord(messageId, body),
  eventSourceARN: UPLOADS_QUEUE_ARN,
});

const deletionRecord = (type: 'CustomerDeleted' | 'CustomerUpdated' = 'CustomerDeleted') => ({
  ...eventRecord({
    eventId: 'event-1',
    type,
    occurredAt: '2025-03-01T00:00:00.000Z',
    version: stored.version,
    customer: stored,
    marketingConsent: 'none',
  }),
  eventSourceARN: EVENTS_QUEUE_ARN,
});

/** The batch's failures; when every record fails, Lambda's whole invocation does (Powertools throws). */
const processBatch = async (
  ...records: ReturnType<typeof uploadRecord>[]
): Promise<SQSBatchResponse> => {
  try {
    return (await handler(batch(...records))) as SQSBatchResponse;
  } catch (error) {
    if (!(error instanceof FullBatchFailureError)) throw error;
    return { batchItemFailures: records.map((r) => ({ itemIdentifier: r.messageId })) };
  }
};

// ---- Stubs -------------------------------------------------------------------------------------

const recorded = (sequencer: string, versionId = 'v-published-0'): Avatar => ({
  key: PUBLISHED_KEY,
  versionId,
  contentType: 'image/jpeg',
  width: 256,
  height: 256,
  bytes: 7000,
  updatedAt: '2025-02-01T00:00:00.000Z',
  sequencer,
});

const givenProfile = (item: Record<string, unknown> = storedItem) =>
  ddb.on(GetCommand).resolves({ Item: item });
const givenNoProfile = () => ddb.on(GetCommand).resolves({});

/** The upload's bytes as S3 serves them: a Range read gets the first bytes and the total size. */
const givenUpload = (bytes: Uint8Array, contentType = 'image/png') => {
  s3.on(GetObjectCommand).callsFake((input: { Range?: string }) => {
    const end = Number(input.Range?.match(/^bytes=0-(\d+)$/)?.[1] ?? bytes.length - 1);
    const body = bytes.slice(0, end + 1);
    return {
      Body: { transformToByteArray: async () => body },
      ContentType: contentType,
      ContentLength: body.length,
      ...(input.Range === undefined
        ? {}
        : { ContentRange: `bytes 0-${body.length - 1}/${bytes.length}` }),
    };
  });
  s3.on(PutObjectCommand).resolves({ VersionId: 'v-published-1' });
  s3.on(DeleteObjectCommand).resolves({});
};

const gets = () => s3.commandCalls(GetObjectCommand).map((call) => call.args[0].input);
const puts = () => s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
const deletes = () =>
  s3.commandCalls(DeleteObjectCommand).map(({ args: [{ input }] }) => ({
    Key: input.Key,
    VersionId: input.VersionId,
  }));
const updates = () => ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input);
const uploadDeleted = { Key: UPLOAD_KEY, VersionId: 'v-upload-1' };
const publishedDeleted = { Key: PUBLISHED_KEY, VersionId: 'v-published-1' };

/** The one outcome line the upload logged. */
const outcomeLogged = () =>
  logged.mock.calls
    .filter(([message]) => message === 'avatar upload handled')
    .map(([, fields]) => fields);

const conditionFailed = (item?: Record<string, unknown>) =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    ...(item === undefined ? {} : { Item: marshall(item, { removeUndefinedValues: true }) }),
  });

// ---- Uploads -----------------------------------------------------------------------------------

describe('an upload notification', () => {
  it('publishes a PNG as a 256 px JPEG under avatars/, records it with a version bump, then deletes the upload by version', async () => {
    givenProfile();
    givenUpload(image(600, 300, 'png'));
    ddb.on(UpdateCommand).resolves({});

    const response = await processBatch(uploadRecord());

    expect(response.batchItemFailures).toEqual([]);
    expect(emf.series()).toEqual([
      'AvatarsPublished{service=avatar} 1 Count',
      'RecordsReceived{service=avatar,FunctionVersion=7} 1 Count',
      'RecordsReceived{service=avatar} 1 Count',
    ]);
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE_NAME,
      Key: { pk: `CUSTOMER#${ID}`, sk: 'PROFILE' },
      ConsistentRead: true,
    });
    expect(gets()[0]).toEqual({
      Bucket: BUCKET,
      Key: UPLOAD_KEY,
      VersionId: 'v-upload-1',
      Range: 'bytes=0-65535',
    });
    expect(puts()).toEqual([
      expect.objectContaining({ Bucket: BUCKET, Key: PUBLISHED_KEY, ContentType: 'image/jpeg' }),
    ]);
    const published = puts()[0]?.Body as Uint8Array;
    expect(decodedSize(published)).toEqual({ width: 256, height: 128 });
    expect(updates()).toEqual([
      {
        TableName: TABLE_NAME,
        Key: { pk: `CUSTOMER#${ID}`, sk: 'PROFILE' },
        UpdateExpression: 'SET avatar = :avatar, version = version + :one, updatedAt = :now',
        ConditionExpression:
          'attribute_exists(pk) AND (attribute_not_exists(avatar) OR avatar.sequencer < :sequencer)',
        ExpressionAttributeValues: {
          ':avatar': {
            key: PUBLISHED_KEY,
            versionId: 'v-published-1',
            contentType: 'image/jpeg',
            width: 256,
            height: 128,
            bytes: published.length,
            updatedAt: expect.any(String),
            sequencer: PADDED,
          },
          ':one': 1,
          ':now': expect.any(String),
          ':sequencer': PADDED,
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    ]);
    expect(deletes()).toEqual([uploadDeleted]);
    expect(outcomeLogged()).toEqual([
      expect.objectContaining({ customerId: ID, outcome: 'published', versionId: 'v-upload-1' }),
    ]);
  });

  it.each([
    ['a JPEG', image(300, 900, 'jpeg'), 'image/jpeg', [85, 256]],
    ['a WebP', image(200, 100, 'webp'), 'image/webp', [200, 100]],
  ] as const)(
    'publishes %s, never enlarging it',
    async (_, bytes, contentType, [width, height]) => {
      givenProfile();
      givenUpload(bytes, contentType);
      ddb.on(UpdateCommand).resolves({});

      await processBatch(uploadRecord());

      const avatar = updates()[0]?.ExpressionAttributeValues?.[':avatar'] as Avatar;
      expect([avatar.width, avatar.height]).toEqual([width, height]);
    },
  );

  it('reads an image larger than the head in a second, whole read of the same version', async () => {
    const large = image(1200, 1200, 'png');
    expect(large.length).toBeGreaterThan(64 * 1024);
    givenProfile();
    givenUpload(large);
    ddb.on(UpdateCommand).resolves({});

    await processBatch(uploadRecord());

    expect(gets()).toEqual([
      expect.objectContaining({ Range: 'bytes=0-65535', VersionId: 'v-upload-1' }),
      { Bucket: BUCKET, Key: UPLOAD_KEY, VersionId: 'v-upload-1' },
    ]);
    expect(outcomeLogged()[0]).toMatchObject({ outcome: 'published' });
  });

  it.each([
    ['an HTML file declared image/png', HTML, 'image/png', /not an image/],
    [
      'a PNG declared image/jpeg',
      image(10, 10, 'png'),
      'image/jpeg',
      /declared as image\/jpeg but is image\/png/,
    ],
    [
      'a decompression bomb (50,000 × 50,000 in a tiny PNG)',
      pngHeader(50_000, 50_000),
      'image/png',
      /50000 × 50000 px/,
    ],
    [
      'an SVG',
      new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"/>'),
      'image/svg+xml',
      /not one of/,
    ],
  ])(
    'rejects %s from its first bytes: nothing published or recorded, the upload deleted',
    async (_, bytes, contentType, reason) => {
      givenProfile();
      givenUpload(bytes, contentType);

      const response = await processBatch(uploadRecord());

      expect(response.batchItemFailures).toEqual([]);
      expect(gets()).toHaveLength(1);
      expect(puts()).toEqual([]);
      expect(updates()).toEqual([]);
      expect(deletes()).toEqual([uploadDeleted]);
      expect(outcomeLogged()).toEqual([
        expect.objectContaining({ outcome: 'rejected', reason: expect.stringMatching(reason) }),
      ]);
    },
  );

  it('rejects, and deletes, an object under the prefix whose key names no customer', async () => {
    s3.on(DeleteObjectCommand).resolves({});

    await processBatch(uploadRecord(notification({ key: 'avatar-uploads/not-a-customer' })));

    expect(ddb.calls()).toHaveLength(0);
    expect(deletes()).toEqual([{ Key: 'avatar-uploads/not-a-customer', VersionId: 'v-upload-1' }]);
    expect(outcomeLogged()[0]).toMatchObject({ outcome: 'rejected' });
  });

  it('skips S3 test event, which S3 sends when the notification is configured', async () => {
    const response = await processBatch(
      uploadRecord(JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: BUCKET })),
    );

    expect(response.batchItemFailures).toEqual([]);
    expect(s3.calls()).toHaveLength(0);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('reads a key S3 URL-encoded', async () => {
    givenNoProfile();
    s3.on(DeleteObjectCommand).resolves({});

    await processBatch(uploadRecord(notification({ key: UPLOAD_KEY.replace('/', '%2F') })));

    expect(deletes()).toEqual([uploadDeleted]);
  });

  it.each([
    ['not JSON', '{'],
    ['without a version id (an unversioned bucket)', notification({ versionId: '' })],
    ['with a sequencer that is not hexadecimal', notification({ sequencer: 'not-hex' })],
  ])('fails a message %s, so that it ends in the dead-letter queue', async (_, body) => {
    const response = await processBatch(uploadRecord(body));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'msg-upload-1' }]);
    expect(s3.calls()).toHaveLength(0);
  });

  /**
   * S3's answer to a read of a key that no longer exists, for a caller without s3:ListBucket
   * (403, not 404), with `listed` what a listing of the upload's key finds.
   */
  const givenDeniedRead = (listed: { Versions: { Key: string; VersionId: string }[] }) => {
    givenProfile();
    s3.on(GetObjectCommand).rejects(
      Object.assign(new Error('Access Denied'), {
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    s3.on(ListObjectVersionsCommand).resolves(listed);
  };

  describe('delivered twice, late, or after the customer is gone', () => {
    it('twice: finds its own upload recorded and only deletes the upload', async () => {
      givenProfile({ ...storedItem, avatar: recorded(PADDED, 'v-published-1') });
      s3.on(DeleteObjectCommand).resolves({});

      await processBatch(uploadRecord());

      expect(gets()).toEqual([]);
      expect(puts()).toEqual([]);
      expect(updates()).toEqual([]);
      expect(deletes()).toEqual([uploadDeleted]);
      expect(outcomeLogged()[0]).toMatchObject({
        outcome: 'superseded',
        by: 'this upload, already',
      });
    });

    it('twice, after the upload was already deleted: writes nothing', async () => {
      givenProfile();
      s3.on(GetObjectCommand).rejects(
        Object.assign(new Error('version gone'), {
          name: 'NoSuchVersion',
          $metadata: { httpStatusCode: 404 },
        }),
      );

      const response = await processBatch(uploadRecord());

      expect(response.batchItemFailures).toEqual([]);
      expect(puts()).toEqual([]);
      expect(deletes()).toEqual([]);
      expect(outcomeLogged()[0]).toMatchObject({ outcome: 'already processed' });
    });

    it('twice, after the upload was deleted, as S3 answers a role without ListBucket (403): the listing shows the version gone, so it writes nothing', async () => {
      givenDeniedRead({
        Versions: [{ Key: `${UPLOAD_KEY}-other`, VersionId: 'v-upload-1' }],
      });

      const response = await processBatch(uploadRecord());

      expect(response.batchItemFailures).toEqual([]);
      expect(s3.commandCalls(ListObjectVersionsCommand)[0]?.args[0].input).toEqual({
        Bucket: BUCKET,
        Prefix: UPLOAD_KEY,
      });
      expect(puts()).toEqual([]);
      expect(deletes()).toEqual([]);
      expect(outcomeLogged()[0]).toMatchObject({ outcome: 'already processed' });
    });

    it('a 403 for a version that is still there is a real denial: the record fails', async () => {
      givenDeniedRead({
        Versions: [{ Key: UPLOAD_KEY, VersionId: 'v-upload-1' }],
      });

      const response = await processBatch(uploadRecord());

      expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'msg-upload-1' }]);
      expect(deletes()).toEqual([]);
    });

    it('late, after a newer upload was recorded (a longer sequencer compares after padding): publishes nothing', async () => {
      givenProfile({ ...storedItem, avatar: recorded('000000000000000000000000000000FF') });
      s3.on(DeleteObjectCommand).resolves({});

      await processBatch(uploadRecord(notification({ sequencer: 'FE' })));

      expect(puts()).toEqual([]);
      expect(deletes()).toEqual([uploadDeleted]);
      expect(outcomeLogged()[0]).toMatchObject({ outcome: 'superseded', by: 'a newer upload' });
    });

    it('replaces an avatar from an older upload', async () => {
      givenProfile({ ...storedItem, avatar: recorded('0000000000000000000000000000000A') });
      givenUpload(image(40, 40, 'png'));
      ddb.on(UpdateCommand).resolves({});

      await processBatch(uploadRecord());

      expect(outcomeLogged()[0]).toMatchObject({ outcome: 'published' });
    });

    it('overtaken while it worked: deletes the image it published, keeps the newer avatar', async () => {
      givenProfile();
      givenUpload(image(40, 40, 'png'));
      ddb
        .on(UpdateCommand)
        .rejects(
          conditionFailed({ ...storedItem, avatar: recorded('000000000000000000000000000000FF') }),
        );

      const response = await processBatch(uploadRecord());

      expect(response.batchItemFailures).toEqual([]);
      expect(deletes()).toEqual([publishedDeleted, uploadDeleted]);
      expect(outcomeLogged()[0]).toMatchObject({ outcome: 'superseded', by: 'a newer upload' });
    });

    it('after the customer is gone: publishes nothing and deletes the upload', async () => {
      givenNoProfile();
      s3.on(DeleteObjectCommand).resolves({});

      await processBatch(uploadRecord());

      expect(gets()).toEqual([]);
      expect(puts()).toEqual([]);
      expect(deletes()).toEqual([uploadDeleted]);
      expect(outcomeLogged()[0]).toMatchObject({ outcome: 'customer gone' });
    });

    it('the customer deleted while it worked: the update fails its condition and it removes its own image', async () => {
      givenProfile();
      givenUpload(image(40, 40, 'png'));
      ddb.on(UpdateCommand).rejects(conditionFailed());

      await processBatch(uploadRecord());

      expect(deletes()).toEqual([publishedDeleted, uploadDeleted]);
      expect(outcomeLogged()[0]).toMatchObject({ outcome: 'customer gone' });
    });
  });

  describe('when an AWS call fails once', () => {
    it('the write of the image: the record fails and the upload stays for the retry', async () => {
      givenProfile();
      givenUpload(image(40, 40, 'png'));
      s3.on(PutObjectCommand).rejects(
        Object.assign(new Error('slow down'), { name: 'SlowDown', $fault: 'server' }),
      );

      const response = await processBatch(uploadRecord());

      expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'msg-upload-1' }]);
      expect(updates()).toEqual([]);
      expect(deletes()).toEqual([]);
    });

    it('the update, throttled past its retries: the image it published is deleted, the upload stays', async () => {
      givenProfile();
      givenUpload(image(40, 40, 'png'));
      ddb
        .on(UpdateCommand)
        .rejects(
          new ProvisionedThroughputExceededException({ message: 'throttled', $metadata: {} }),
        );

      const response = await processBatch(uploadRecord());

      expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'msg-upload-1' }]);
      expect(updates()).toHaveLength(3);
      expect(deletes()).toEqual([publishedDeleted]);
      // Failed, not published: the count follows the record on the profile.
      expect(emf.series()).toEqual([
        'RecordsFailed{service=avatar,FunctionVersion=7} 1 Count',
        'RecordsFailed{service=avatar,reason=Busy} 1 Count',
        'RecordsFailed{service=avatar} 1 Count',
        'RecordsReceived{service=avatar,FunctionVersion=7} 1 Count',
        'RecordsReceived{service=avatar} 1 Count',
      ]);
    });

    it('the upload’s deletion: the record fails, and its retry finds the avatar recorded', async () => {
      givenProfile();
      givenUpload(image(40, 40, 'png'));
      ddb.on(UpdateCommand).resolves({});
      s3.on(DeleteObjectCommand).rejects(
        Object.assign(new Error('internal'), { $fault: 'server' }),
      );

      const response = await processBatch(uploadRecord());

      expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'msg-upload-1' }]);
      expect(updates()).toHaveLength(1);
    });
  });

  it('rejects an image whose data does not decode, deletes it, then retires the environment', async () => {
    // Resolves with the exit code once the handler has asked the process to exit.
    const exited = new Promise((resolve) => {
      jest.spyOn(process, 'exit').mockImplementation(((code: number) => resolve(code)) as never);
    });
    const valid = image(64, 64, 'png');
    givenProfile();
    givenUpload(valid.slice(0, 60));

    const response = await processBatch(uploadRecord());

    expect(response.batchItemFailures).toEqual([]);
    expect(puts()).toEqual([]);
    expect(deletes()).toEqual([uploadDeleted]);
    expect(outcomeLogged()[0]).toMatchObject({
      outcome: 'rejected',
      reason: 'its image data does not decode',
    });
    expect(loggedErrors).toHaveBeenCalledWith(
      'the image decoder trapped; retiring this environment',
      expect.anything(),
    );
    await expect(exited).resolves.toBe(1);
  });
});

// ---- Deletions ---------------------------------------------------------------------------------

describe('a CustomerDeleted event', () => {
  const versions: Record<string, object> = {
    [`avatar-uploads/${ID}`]: {
      Versions: [{ Key: UPLOAD_KEY, VersionId: 'u1' }],
      DeleteMarkers: [{ Key: UPLOAD_KEY, VersionId: 'u2' }],
    },
    [`avatars/${ID}`]: {
      Versions: [
        { Key: PUBLISHED_KEY, VersionId: 'p1' },
        { Key: PUBLISHED_KEY, VersionId: 'p2' },
        { Key: `avatars/${ID}`, VersionId: 'legacy1' },
      ],
    },
  };

  it('erases every version and delete marker of the upload, published and legacy keys', async () => {
    s3.on(ListObjectVersionsCommand).callsFake(
      ({ Prefix }: { Prefix: string }) => versions[Prefix] ?? {},
    );
    s3.on(DeleteObjectsCommand).resolves({});

    const response = await processBatch(deletionRecord());

    expect(response.batchItemFailures).toEqual([]);
    expect(s3.commandCalls(ListObjectVersionsCommand).map((c) => c.args[0].input.Prefix)).toEqual([
      `avatar-uploads/${ID}`,
      `avatars/${ID}`,
    ]);
    expect(
      s3.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input.Delete?.Objects),
    ).toEqual([
      [
        { Key: UPLOAD_KEY, VersionId: 'u1' },
        { Key: UPLOAD_KEY, VersionId: 'u2' },
      ],
      [
        { Key: PUBLISHED_KEY, VersionId: 'p1' },
        { Key: PUBLISHED_KEY, VersionId: 'p2' },
        { Key: `avatars/${ID}`, VersionId: 'legacy1' },
      ],
    ]);
    expect(ddb.calls()).toHaveLength(0);
    expect(emf.series()).toContain('AvatarsErased{service=avatar} 1 Count');
  });

  it('twice, or late: finds nothing left and deletes nothing', async () => {
    s3.on(ListObjectVersionsCommand).resolves({});

    const response = await processBatch(deletionRecord());

    expect(response.batchItemFailures).toEqual([]);
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
    expect(emf.series().join()).not.toContain('AvatarsErased');
  });

  it('fails the record when S3 refuses a version, so the erase runs again', async () => {
    s3.on(ListObjectVersionsCommand).callsFake(
      ({ Prefix }: { Prefix: string }) => versions[Prefix] ?? {},
    );
    s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: UPLOAD_KEY, Code: 'InternalError' }] });

    const response = await processBatch(deletionRecord());

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'msg-event-1' }]);
  });

  it('ignores an event other than a deletion', async () => {
    const response = await processBatch(deletionRecord('CustomerUpdated'));

    expect(response.batchItemFailures).toEqual([]);
    expect(s3.calls()).toHaveLength(0);
  });
});

// ---- GET /customers/{id}/avatar ----------------------------------------------------------------

describe('GET /customers/{id}/avatar', () => {
  const get = (id: string, routeKey = 'GET /customers/{id}/avatar') =>
    handler(apiEvent(routeKey, { pathParameters: { id } }));

  it('redirects (302) to a short-lived presigned GET of the recorded version, never cached', async () => {
    givenProfile({ ...storedItem, avatar: recorded(PADDED, 'v-published-7') });

    const response = (await get(ID)) as { statusCode: number; headers: Record<string, string> };

    expect(response.statusCode).toBe(302);
    expect(response.headers['cache-control']).toBe('no-store');
    const location = new URL(response.headers.location ?? '');
    expect(location.hostname).toBe(`${BUCKET}.s3.eu-west-1.amazonaws.com`);
    expect(location.pathname).toBe(`/${PUBLISHED_KEY}`);
    expect(location.searchParams.get('versionId')).toBe('v-published-7');
    expect(location.searchParams.get('X-Amz-Expires')).toBe('300');
    expect(location.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(s3.calls()).toHaveLength(0);
    expect(emf.series()).toEqual([
      'Answers3xx{service=avatar,FunctionVersion=7} 1 Count',
      'Answers3xx{service=avatar} 1 Count',
    ]);
  });

  it('answers 404 for a customer without an avatar', async () => {
    givenProfile();

    const response = await get(ID);

    expect(response).toMatchObject({ statusCode: 404 });
    expect(bodyOf(response as never)).toEqual({ message: `customer ${ID} has no avatar` });
  });

  it('answers 404 for an unknown customer, and 400 for an id that is not one', async () => {
    givenNoProfile();

    expect(await get(ID)).toMatchObject({ statusCode: 404 });
    expect(await get('nope')).toMatchObject({ statusCode: 400 });
  });

  it('answers 503 when DynamoDB stays throttled', async () => {
    ddb
      .on(GetCommand)
      .rejects(new ProvisionedThroughputExceededException({ message: 'throttled', $metadata: {} }));

    expect(await get(ID)).toMatchObject({ statusCode: 503 });
    expect(emf.series()).toEqual([
      'Answers5xx{service=avatar,FunctionVersion=7} 1 Count',
      'Answers5xx{service=avatar} 1 Count',
    ]);
  });

  it('answers 404 for a route it does not serve', async () => {
    expect(await get(ID, 'POST /customers/{id}/avatar-upload')).toMatchObject({ statusCode: 404 });
    expect(ddb.calls()).toHaveLength(0);
    expect(emf.series()).toContain('Answers4xx{service=avatar} 1 Count');
  });
});
