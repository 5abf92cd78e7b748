import type { Stack } from 'aws-cdk-lib';
import {
  type AuthorizationRequest,
  type CfnTemplate,
  type PhysicalResource,
  type ResolveContext,
  templateRoleEnforcer,
} from 'cdk-local-cloud';
import type { IConstruct } from 'constructs';
import {
  ARCHIVE_PREFIX,
  AVATAR_UPLOADS_PREFIX,
  AVATARS_PREFIX,
  CONTACTS_PREFIX,
  LAMBDA_FAILURE_PREFIX,
  UNPUBLISHABLE_PREFIX,
} from '../../lambda/shared/contract';
import { synthPipeline } from '../synth';
import { logicalIdOf } from '../template-queries';

// Each function's role in this app's template, with the template's bucket, topic, queue and
// key policies, evaluated as the local cloud evaluates them (and AWS would) for the calls its
// handler makes, and for calls it must not be able to make: least privilege, checked.

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const { stack, template } = synthPipeline('dev');
const cfn = template.toJSON() as CfnTemplate;

/** Stand-in local names and ARNs, shaped as each type's are on AWS. */
const physical = (id: string, type: string): PhysicalResource => {
  const name = id.toLowerCase();
  const arn = (service: string, resource: string) =>
    `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
  const with_ = (ref: string, attributes: Record<string, string>): PhysicalResource => ({
    logicalId: id,
    type,
    ref,
    attributes,
  });
  switch (type) {
    case 'AWS::DynamoDB::Table':
      return with_(name, {
        Arn: arn('dynamodb', `table/${name}`),
        StreamArn: arn('dynamodb', `table/${name}/stream/2026-12-01T00:00:00.000`),
      });
    case 'AWS::S3::Bucket':
      return with_(name, { Arn: `arn:aws:s3:::${name}` });
    case 'AWS::SQS::Queue':
      return with_(`https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`, {
        Arn: arn('sqs', name),
        QueueName: name,
      });
    case 'AWS::SNS::Topic':
      return with_(arn('sns', name), { TopicArn: arn('sns', name) });
    case 'AWS::KMS::Key':
      return with_(name, { Arn: arn('kms', `key/${name}`) });
    case 'AWS::SecretsManager::Secret':
      return with_(arn('secretsmanager', `secret:${name}-AbCdEf`), {});
    case 'AWS::IAM::Role':
      return with_(name, { Arn: `arn:aws:iam::${ACCOUNT}:role/${name}` });
    case 'AWS::Logs::LogGroup':
      return with_(name, { Arn: arn('logs', `log-group:${name}:*`) });
    default:
      return with_(name, { Arn: arn('local', name) });
  }
};
const context: ResolveContext = {
  resources: Object.fromEntries(
    Object.entries(cfn.Resources).map(([id, r]) => [id, physical(id, r.Type)]),
  ),
  accountId: ACCOUNT,
  region: REGION,
  stackName: stack.stackName,
};

const idOf = (construct: IConstruct) => logicalIdOf(stack as Stack, construct);
const child = <T>(path: string): T => stack.node.findChild(path) as T;
const fn = (path: string, property: 'function' | 'avatarUploadFunction' = 'function') =>
  idOf(child<Record<string, IConstruct>>(path)[property] as IConstruct);
const arnOf = (construct: IConstruct, attribute = 'Arn') =>
  context.resources[idOf(construct)]?.attributes[attribute] ?? '';
const refOf = (construct: IConstruct) => context.resources[idOf(construct)]?.ref ?? '';

const table = arnOf(child<{ table: IConstruct }>('CustomerTable').table);
const stream = arnOf(child<{ table: IConstruct }>('CustomerTable').table, 'StreamArn');
const topic = refOf(child<{ topic: IConstruct }>('CustomerEvents').topic);
const topicKey = arnOf(child<{ key: IConstruct }>('CustomerEvents').key);
const assets = arnOf(child<{ bucket: IConstruct }>('Assets').bucket);
const contacts = arnOf(child<{ bucket: IConstruct }>('MarketingContacts').bucket);
const failures = arnOf(child<{ failureBucket: IConstruct }>('StreamPublisher').failureBucket);
const secret = refOf(child<{ secret: IConstruct }>('NotificationSecret').secret);

/** A request as the local cloud's proxy builds it: over TLS, in the one account. */
const call = (
  action: string,
  resource: string,
  extra: AuthorizationRequest['context'] = {},
): AuthorizationRequest => ({
  action,
  resource,
  context: {
    'aws:SecureTransport': 'true',
    'aws:RequestedRegion': REGION,
    'aws:ResourceAccount': ACCOUNT,
    ...(action.startsWith('s3:') ? { 's3:ResourceAccount': ACCOUNT } : {}),
    ...extra,
  },
});

const FUNCTIONS = {
  api: fn('CustomerApi'),
  'avatar-upload': fn('CustomerApi', 'avatarUploadFunction'),
  publisher: fn('StreamPublisher'),
  welcome: fn('WelcomeConsumer'),
  archive: fn('ArchiveConsumer'),
  marketing: fn('MarketingConsumer'),
  avatar: fn('Avatars'),
} as const;

type Case = [keyof typeof FUNCTIONS, string, AuthorizationRequest];

const verdictOf = (name: keyof typeof FUNCTIONS, request: AuthorizationRequest) =>
  templateRoleEnforcer(cfn, FUNCTIONS[name], context, { mode: 'enforce' }).check(
    request.action,
    [request],
    'function',
  );

describe('what each function’s handler calls is allowed', () => {
  test.each<Case>([
    ['api', 'GetItem', call('dynamodb:GetItem', table)],
    ['api', 'PutItem (each item of its TransactWriteItems)', call('dynamodb:PutItem', table)],
    ['api', 'DeleteItem', call('dynamodb:DeleteItem', table)],
    ['avatar-upload', 'GetItem', call('dynamodb:GetItem', table)],
    [
      'avatar-upload',
      'the presigned POST (PutObject)',
      call('s3:PutObject', `${assets}/${AVATAR_UPLOADS_PREFIX}c1`),
    ],
    ['avatar', 'GetItem (the profile)', call('dynamodb:GetItem', table)],
    ['avatar', 'UpdateItem (records the avatar)', call('dynamodb:UpdateItem', table)],
    [
      'avatar',
      'GetObject of an upload’s version (GetObjectVersion)',
      call('s3:GetObjectVersion', `${assets}/${AVATAR_UPLOADS_PREFIX}c1`, { 's3:versionid': 'v1' }),
    ],
    [
      'avatar',
      'PutObject of the resized image',
      call('s3:PutObject', `${assets}/${AVATARS_PREFIX}c1.jpg`),
    ],
    [
      'avatar',
      'the presigned GET of a published version',
      call('s3:GetObjectVersion', `${assets}/${AVATARS_PREFIX}c1.jpg`, { 's3:versionid': 'v1' }),
    ],
    ...[AVATAR_UPLOADS_PREFIX, AVATARS_PREFIX].flatMap((prefix): Case[] => [
      [
        'avatar',
        `a version's delete under ${prefix}: DeleteObject`,
        call('s3:DeleteObject', `${assets}/${prefix}c1`),
      ],
      [
        'avatar',
        `a version's delete under ${prefix}: DeleteObjectVersion`,
        call('s3:DeleteObjectVersion', `${assets}/${prefix}c1`, { 's3:versionid': 'v1' }),
      ],
      [
        'avatar',
        `ListObjectVersions under ${prefix}`,
        call('s3:ListBucketVersions', assets, { 's3:prefix': `${prefix}c1` }),
      ],
    ]),
    ['publisher', 'Publish', call('sns:Publish', topic)],
    [
      'publisher',
      'GenerateDataKey on the topic’s key (SNS asks KMS as the publisher)',
      call('kms:GenerateDataKey', topicKey),
    ],
    ['publisher', 'Decrypt on the topic’s key', call('kms:Decrypt', topicKey)],
    [
      'publisher',
      'an unpublishable record’s PutObject',
      call('s3:PutObject', `${failures}/${UNPUBLISHABLE_PREFIX}r1`),
    ],
    [
      'publisher',
      'the platform’s on-failure PutObject',
      call('s3:PutObject', `${failures}/${LAMBDA_FAILURE_PREFIX}m/1`),
    ],
    ['publisher', 'the platform’s GetRecords', call('dynamodb:GetRecords', stream)],
    ['welcome', 'GetSecretValue', call('secretsmanager:GetSecretValue', secret)],
    ['welcome', 'PutItem (its claim)', call('dynamodb:PutItem', table)],
    ['archive', 'PutObject', call('s3:PutObject', `${assets}/${ARCHIVE_PREFIX}c1.json`)],
    ['archive', 'GetObject', call('s3:GetObject', `${assets}/${ARCHIVE_PREFIX}c1.json`)],
    ['archive', 'ListBucket (so a missing key is 404, not 403)', call('s3:ListBucket', assets)],
    ['marketing', 'PutObject', call('s3:PutObject', `${contacts}/${CONTACTS_PREFIX}c1.json`)],
    [
      'marketing',
      'ListObjectVersions under contacts/',
      call('s3:ListBucketVersions', contacts, { 's3:prefix': `${CONTACTS_PREFIX}c1.json` }),
    ],
    [
      'marketing',
      'DeleteObjects, a version: DeleteObject',
      call('s3:DeleteObject', `${contacts}/${CONTACTS_PREFIX}c1.json`),
    ],
    [
      'marketing',
      'DeleteObjects, a version: DeleteObjectVersion',
      call('s3:DeleteObjectVersion', `${contacts}/${CONTACTS_PREFIX}c1.json`, {
        's3:versionid': 'v1',
      }),
    ],
  ])('%s: %s', (name, _, request) => {
    expect(verdictOf(name, request)).toEqual({ allowed: true, proceed: true });
  });
});

describe('what no handler needs is denied', () => {
  test.each<[...Case, 'identity' | 'resource', boolean]>([
    ['api', 'Scan (the table is never scanned)', call('dynamodb:Scan', table), 'identity', false],
    [
      'api',
      'any S3 write',
      call('s3:PutObject', `${assets}/${ARCHIVE_PREFIX}c1.json`),
      'identity',
      false,
    ],
    [
      'avatar-upload',
      'PutObject outside avatar-uploads/',
      call('s3:PutObject', `${assets}/${AVATARS_PREFIX}c1`),
      'identity',
      false,
    ],
    [
      'avatar-upload',
      'ListBucket (a missing avatar is 403)',
      call('s3:ListBucket', assets),
      'identity',
      false,
    ],
    [
      'avatar',
      'PutObject under avatar-uploads/ (its own write would notify it again)',
      call('s3:PutObject', `${assets}/${AVATAR_UPLOADS_PREFIX}c1`),
      'identity',
      false,
    ],
    [
      'avatar',
      'PutObject under customers/ (the archive)',
      call('s3:PutObject', `${assets}/${ARCHIVE_PREFIX}c1.json`),
      'identity',
      false,
    ],
    [
      'avatar',
      'a current object’s GetObject (every read names a version)',
      call('s3:GetObject', `${assets}/${AVATARS_PREFIX}c1.jpg`),
      'identity',
      false,
    ],
    [
      'avatar',
      'ListObjectVersions of the archive',
      call('s3:ListBucketVersions', assets, { 's3:prefix': ARCHIVE_PREFIX }),
      'identity',
      false,
    ],
    [
      'avatar',
      'PutItem (it only updates the profile)',
      call('dynamodb:PutItem', table),
      'identity',
      false,
    ],
    [
      'publisher',
      'the alarm topic’s key',
      call(
        'kms:GenerateDataKey',
        arnOf(child<{ node: IConstruct['node'] }>('Monitoring').node.findChild('AlarmTopicKey')),
      ),
      'identity',
      false,
    ],
    [
      'welcome',
      'another secret',
      call(
        'secretsmanager:GetSecretValue',
        `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:other-AbCdEf`,
      ),
      'identity',
      false,
    ],
    [
      'archive',
      'DeleteObject',
      call('s3:DeleteObject', `${assets}/${ARCHIVE_PREFIX}c1.json`),
      'identity',
      false,
    ],
    [
      'archive',
      'PutObject outside customers/',
      call('s3:PutObject', `${assets}/${AVATARS_PREFIX}c1`),
      'identity',
      false,
    ],
    [
      'marketing',
      'ListObjectVersions of the whole bucket',
      call('s3:ListBucketVersions', contacts, { 's3:prefix': '' }),
      'identity',
      false,
    ],
    [
      'marketing',
      'GetObject (it never reads a contact back)',
      call('s3:GetObject', `${contacts}/${CONTACTS_PREFIX}c1.json`),
      'identity',
      false,
    ],
    // CDK's TLS-only bucket and topic policies: a plain-HTTP request is refused whatever the role.
    [
      'archive',
      'PutObject over plain HTTP',
      call('s3:PutObject', `${assets}/${ARCHIVE_PREFIX}c1.json`, {
        'aws:SecureTransport': 'false',
      }),
      'resource',
      true,
    ],
    [
      'publisher',
      'Publish over plain HTTP',
      call('sns:Publish', topic, { 'aws:SecureTransport': 'false' }),
      'resource',
      true,
    ],
  ])('%s: %s', (name, _, request, where, explicit) => {
    expect(verdictOf(name, request)).toEqual({
      allowed: false,
      proceed: false,
      denied: { request, explicit, in: where },
    });
  });
});
