import { smallPng } from '../avatar/images';

/**
 * What each handler's first invocation needs to run its real, successful code path:
 * its environment, a realistic event, the AWS calls it must make, and how to tell
 * that it succeeded. A cold start measured on an error path would measure the wrong
 * thing, so every run is checked against these.
 */

export const HANDLER_NAMES = [
  'api',
  'avatar-upload',
  'avatar',
  'stream-publisher',
  'welcome',
  'archive',
  'marketing',
] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

export interface HandlerSpec {
  readonly name: HandlerName;
  /** As the stack sizes it; only reported to the handler through the Lambda variables. */
  readonly memorySize: number;
  /** The variables the stack gives the function, pointed at the stub. */
  readonly environment: (stubUrl: string) => Record<string, string>;
  readonly event: () => unknown;
  /** The calls the stub must see, in order: anything else means another code path ran. */
  readonly expectedOperations: readonly string[];
  /** Why the result is not a success, or `undefined` when it is. */
  readonly failureOf: (result: unknown) => string | undefined;
}

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const TABLE_NAME = 'CustomerPipeline-bench-Table';
const BUCKET_NAME = 'customer-pipeline-bench-assets';
const CONTACTS_BUCKET_NAME = 'customer-pipeline-bench-contacts';
const CUSTOMER_ID = '3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b';
const OCCURRED_AT = '2025-01-15T10:00:00.000Z';

const customer = {
  id: CUSTOMER_ID,
  fullName: 'Ada Lovelace',
  email: 'ada@example.com',
  dateOfBirth: '1815-12-10',
  marketingOptIn: true,
  createdAt: OCCURRED_AT,
  updatedAt: OCCURRED_AT,
  version: 1,
};

/** A `CustomerCreated` event as the publisher sends it, opted in so marketing acts on it. */
export const customerCreatedEvent = {
  eventId: 'c0ffee00000000000000000000000001',
  type: 'CustomerCreated',
  occurredAt: OCCURRED_AT,
  version: 1,
  customer,
  marketingConsent: 'granted',
} as const;

/** An HTTP API (payload 2.0) POST of `routeKey`, its path parameters filled in. */
const httpPostEvent = (routeKey: string, pathParameters?: Record<string, string>) => {
  const path = Object.entries(pathParameters ?? {}).reduce(
    (filled, [name, value]) => filled.replace(`{${name}}`, value),
    routeKey.replace(/^POST /, ''),
  );
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', host: 'api.example.com' },
    ...(pathParameters === undefined ? {} : { pathParameters }),
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'bench',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: {
        method: 'POST',
        path,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'cold-start-bench',
      },
      requestId: 'bench-request-1',
      routeKey,
      stage: '$default',
      time: '15/Jan/2025:10:00:00 +0000',
      timeEpoch: 1736935200000,
    },
    isBase64Encoded: false,
  };
};

export const apiCreateEvent = () => ({
  ...httpPostEvent('POST /customers'),
  body: JSON.stringify({
    fullName: 'Ada Lovelace',
    email: 'ada@example.com',
    dateOfBirth: '1815-12-10',
    marketingOptIn: true,
  }),
});

/** An upload form for the customer whose profile the stub's GetItem returns. */
export const avatarUploadEvent = () => ({
  ...httpPostEvent('POST /customers/{id}/avatar-upload', { id: CUSTOMER_ID }),
  body: JSON.stringify({ contentType: 'image/png' }),
});

/** The customer's profile item, in the attribute-value form of the stream and of GetItem. */
export const profileImage = {
  pk: { S: `CUSTOMER#${CUSTOMER_ID}` },
  sk: { S: 'PROFILE' },
  id: { S: customer.id },
  fullName: { S: customer.fullName },
  email: { S: customer.email },
  dateOfBirth: { S: customer.dateOfBirth },
  marketingOptIn: { BOOL: customer.marketingOptIn },
  createdAt: { S: customer.createdAt },
  updatedAt: { S: customer.updatedAt },
  version: { N: String(customer.version) },
};

/** A stream INSERT of a profile item, in the stream's attribute-value form. */
export const streamInsertEvent = () => ({
  Records: [
    {
      eventID: 'c0ffee00000000000000000000000001',
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: REGION,
      eventSourceARN: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${TABLE_NAME}/stream/2025-01-01T00:00:00.000`,
      dynamodb: {
        ApproximateCreationDateTime: 1736935200,
        Keys: { pk: { S: `CUSTOMER#${CUSTOMER_ID}` }, sk: { S: 'PROFILE' } },
        NewImage: profileImage,
        SequenceNumber: '100000000000000000001',
        SizeBytes: 320,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    },
  ],
});

/** One SQS record carrying `body`, from the queue of `queueArn`. */
const sqsRecordEvent = (queueArn: string, body: string) => ({
  Records: [
    {
      messageId: '6c1f9a3e-0d2b-4c5e-8f7a-9b0c1d2e3f40',
      receiptHandle: 'bench-receipt-handle',
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '1736935200000',
        SenderId: 'AIDAEXAMPLE',
        ApproximateFirstReceiveTimestamp: '1736935200001',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: REGION,
    },
  ],
});

/** One SQS record carrying the event raw, as the subscriptions deliver it. */
export const sqsEvent = (queue: string) =>
  sqsRecordEvent(`arn:aws:sqs:${REGION}:${ACCOUNT}:${queue}`, JSON.stringify(customerCreatedEvent));

/** The queue S3 notifies of avatar uploads: the avatar function tells its records by this ARN. */
export const UPLOADS_QUEUE_ARN = `arn:aws:sqs:${REGION}:${ACCOUNT}:avatar-uploads`;

/** S3's notification of the customer's upload through the presigned form (a POST). */
export const avatarUploadNotification = () => ({
  Records: [
    {
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: REGION,
      eventTime: OCCURRED_AT,
      eventName: 'ObjectCreated:Post',
      userIdentity: { principalId: 'AWS:AROAEXAMPLE:bench-avatar-upload' },
      requestParameters: { sourceIPAddress: '127.0.0.1' },
      responseElements: { 'x-amz-request-id': 'BENCH', 'x-amz-id-2': 'bench' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'bench-avatar-uploads',
        bucket: {
          name: BUCKET_NAME,
          ownerIdentity: { principalId: 'BENCH' },
          arn: `arn:aws:s3:::${BUCKET_NAME}`,
        },
        object: {
          key: `avatar-uploads/${CUSTOMER_ID}`,
          size: smallPng().length,
          eTag: 'fedcba9876543210fedcba9876543210',
          versionId: 'bench-upload-v1',
          sequencer: '0062E99A88DC407460',
        },
      },
    },
  ],
});

/** The uploads queue's one message per invocation: S3's notification as its body. */
export const avatarUploadSqsEvent = () =>
  sqsRecordEvent(UPLOADS_QUEUE_ARN, JSON.stringify(avatarUploadNotification()));

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

export const httpFailureOf =
  (expectedStatus: number) =>
  (result: unknown): string | undefined => {
    if (!isRecord(result)) return `expected an HTTP response, got ${JSON.stringify(result)}`;
    return result.statusCode === expectedStatus
      ? undefined
      : `expected status ${expectedStatus}, got ${result.statusCode}: ${String(result.body)}`;
  };

export const batchFailureOf = (result: unknown): string | undefined => {
  if (!isRecord(result) || !Array.isArray(result.batchItemFailures)) {
    return `expected a batch response, got ${JSON.stringify(result)}`;
  }
  return result.batchItemFailures.length === 0
    ? undefined
    : `${result.batchItemFailures.length} record(s) failed: ${JSON.stringify(result.batchItemFailures)}`;
};

const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:NotificationApiKey-AbCdEf`;

export const HANDLERS: readonly HandlerSpec[] = [
  {
    name: 'api',
    memorySize: 512,
    environment: () => ({ TABLE_NAME }),
    event: apiCreateEvent,
    expectedOperations: ['dynamodb:TransactWriteItems'],
    failureOf: httpFailureOf(201),
  },
  {
    name: 'avatar-upload',
    memorySize: 512,
    environment: () => ({ TABLE_NAME, BUCKET_NAME, AVATAR_MAX_BYTES: String(5 * 1024 * 1024) }),
    event: avatarUploadEvent,
    // Presigning is local: the form costs no call.
    expectedOperations: ['dynamodb:GetItem'],
    failureOf: httpFailureOf(200),
  },
  {
    name: 'avatar',
    memorySize: 1024,
    environment: () => ({
      TABLE_NAME,
      BUCKET_NAME,
      UPLOADS_QUEUE_ARN,
      AVATAR_MAX_BYTES: String(5 * 1024 * 1024),
    }),
    event: avatarUploadSqsEvent,
    // The upload path: the profile, the upload's first 64 KiB (the stub's PNG is all of it),
    // Photon's resize (loaded on this first use), the JPEG, the record, the upload deleted.
    expectedOperations: [
      'dynamodb:GetItem',
      's3:GetObject',
      's3:PutObject',
      'dynamodb:UpdateItem',
      's3:DeleteObject',
    ],
    failureOf: batchFailureOf,
  },
  {
    name: 'stream-publisher',
    memorySize: 256,
    environment: () => ({
      TOPIC_ARN: `arn:aws:sns:${REGION}:${ACCOUNT}:CustomerPipeline-bench-Events`,
      // Written to only for a record it cannot publish, which the bench never sends.
      FAILURE_BUCKET_NAME: 'customer-pipeline-bench-stream-failures',
    }),
    event: streamInsertEvent,
    expectedOperations: ['sns:PublishBatch'],
    failureOf: batchFailureOf,
  },
  {
    name: 'welcome',
    memorySize: 256,
    environment: (stubUrl) => ({
      TABLE_NAME,
      NOTIFICATION_ENDPOINT: `${stubUrl}/notify`,
      NOTIFICATION_API_KEY_SECRET_ARN: SECRET_ARN,
    }),
    event: () => sqsEvent('welcome'),
    expectedOperations: [
      'secretsmanager:GetSecretValue',
      'dynamodb:TransactWriteItems',
      'notify:POST',
      'dynamodb:UpdateItem',
    ],
    failureOf: batchFailureOf,
  },
  {
    name: 'archive',
    memorySize: 256,
    environment: () => ({ BUCKET_NAME }),
    event: () => sqsEvent('archive'),
    expectedOperations: ['s3:HeadObject', 's3:PutObject'],
    failureOf: batchFailureOf,
  },
  {
    name: 'marketing',
    memorySize: 256,
    environment: () => ({ CONTACTS_BUCKET_NAME, TABLE_NAME }),
    event: () => sqsEvent('marketing'),
    expectedOperations: ['dynamodb:BatchGetItem', 's3:PutObject', 'dynamodb:PutItem'],
    failureOf: batchFailureOf,
  },
];

/**
 * The whole environment of a child: nothing inherited from this machine (no profile,
 * no shared config file, no real credentials), as in Lambda, plus the function's own.
 */
export const childEnvironment = (
  spec: HandlerSpec,
  stubUrl: string,
  extra: Record<string, string>,
): Record<string, string> => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  TZ: 'UTC',
  AWS_REGION: REGION,
  AWS_DEFAULT_REGION: REGION,
  AWS_ACCESS_KEY_ID: 'AKIDCOLDSTARTBENCH',
  AWS_SECRET_ACCESS_KEY: 'cold-start-bench-secret',
  AWS_SESSION_TOKEN: 'cold-start-bench-session',
  AWS_ENDPOINT_URL: stubUrl,
  AWS_CONFIG_FILE: '/nonexistent/aws-config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_LAMBDA_FUNCTION_NAME: `bench-${spec.name}`,
  AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memorySize),
  AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/bench-${spec.name}`,
  AWS_LAMBDA_LOG_STREAM_NAME: 'bench',
  POWERTOOLS_SERVICE_NAME: spec.name,
  // Where the business metrics go, as every function of the template has it.
  POWERTOOLS_METRICS_NAMESPACE: 'CustomerPipeline-bench',
  // The SDK warns on Node < 22 (this machine's), which Lambda's Node 24 never prints.
  NODE_NO_WARNINGS: '1',
  ...spec.environment(stubUrl),
  ...extra,
});
