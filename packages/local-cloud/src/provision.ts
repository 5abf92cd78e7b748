import { randomBytes, randomUUID } from 'node:crypto';
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  type Event,
  type NotificationConfigurationFilter,
  PutBucketCorsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketVersioningCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, type SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type ResolveContext, referencedLogicalIds, resolve, resolveString } from './intrinsics';
import type { CfnResource, CfnTemplate, PhysicalResource } from './model';

export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
  readonly secretsManager: SecretsManagerClient;
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
}

export interface ProvisionOptions {
  readonly template: CfnTemplate;
  readonly stackName: string;
  readonly accountId: string;
  readonly region: string;
  readonly clients: AwsClients;
  /** Multiplies every queue's visibility timeout (the `--time-scale`). */
  readonly timeScale: number;
}

export interface ProvisionResult {
  readonly resources: Readonly<Record<string, PhysicalResource>>;
  /** Types present only as names, with how many of each: nothing runs them locally. */
  readonly notEmulated: ReadonlyMap<string, number>;
  /** Types this provisioner does not know at all: named, never skipped in silence. */
  readonly unknown: ReadonlyMap<string, number>;
  /** Types that would change what runs on AWS but do nothing here, with what is missing. */
  readonly notRun: ReadonlyMap<string, string>;
  /** Logical ids of the resources the runtime drives (functions, mappings, API parts). */
  readonly runtime: readonly string[];
}

/** Types that need no emulation to run the pipeline; they get a stand-in name so references resolve. */
const NOT_EMULATED = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::KMS::Key',
  'AWS::KMS::Alias',
  'AWS::Logs::LogGroup',
  'AWS::CloudWatch::Alarm',
  'AWS::CloudWatch::Dashboard',
  'AWS::SNS::TopicPolicy',
  'AWS::SQS::QueuePolicy',
  'AWS::S3::BucketPolicy',
  'AWS::Lambda::Permission',
  'AWS::CDK::Metadata',
  'Custom::S3AutoDeleteObjects',
  // CodeDeploy shifts an alias's traffic between two versions; here an alias runs the
  // function's current code, so there is nothing to shift (and nothing to roll back).
  'AWS::CodeDeploy::Application',
  'AWS::CodeDeploy::DeploymentGroup',
  'AWS::CodeDeploy::DeploymentConfig',
]);

/** Types that do something on AWS that nothing does here: named with what is missing. */
const NOT_RUN: Readonly<Record<string, string>> = {};

type NotificationConfigurations = Record<string, Record<string, unknown>[] | undefined>;

/**
 * CDK's bucket notifications (`Custom::S3BucketNotifications`, whose provider replaces the
 * bucket's configuration with the template's): put into the emulator, which then sends S3's
 * events to the SQS queues and SNS topics. A Lambda destination is left out (the emulator
 * would invoke its own Lambda, not this cloud's functions) and named.
 */
const createBucketNotifications = async (
  id: string,
  p: Record<string, unknown>,
  o: ProvisionOptions & { readonly physicalName: string },
): Promise<{ physical: PhysicalResource; skipped?: string }> => {
  const bucket = String(p.BucketName);
  const configuration = (p.NotificationConfiguration ?? {}) as NotificationConfigurations;
  const lambdas = configuration.LambdaFunctionConfigurations ?? [];
  await o.clients.s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: {
        QueueConfigurations: (configuration.QueueConfigurations ?? []).map((c) => ({
          Id: c.Id as string | undefined,
          QueueArn: c.QueueArn as string,
          Events: c.Events as Event[],
          Filter: c.Filter as NotificationConfigurationFilter | undefined,
        })),
        TopicConfigurations: (configuration.TopicConfigurations ?? []).map((c) => ({
          Id: c.Id as string | undefined,
          TopicArn: c.TopicArn as string,
          Events: c.Events as Event[],
          Filter: c.Filter as NotificationConfigurationFilter | undefined,
        })),
      },
    }),
  );
  return {
    physical: physical(id, 'Custom::S3BucketNotifications', `${bucket}-notifications`, {}),
    ...(lambdas.length > 0
      ? {
          skipped: `S3 event notifications to Lambda functions are not sent (${lambdas.length} of ${bucket}'s; to SQS queues and SNS topics they are)`,
        }
      : {}),
  };
};

/** Types the local runtime (functions, pollers, the HTTP server) brings to life. */
const RUNTIME = new Set([
  'AWS::Lambda::Function',
  'AWS::Lambda::EventSourceMapping',
  'AWS::Lambda::Version',
  'AWS::Lambda::Alias',
  'AWS::ApiGatewayV2::Api',
  'AWS::ApiGatewayV2::Stage',
  'AWS::ApiGatewayV2::Route',
  'AWS::ApiGatewayV2::Integration',
]);

type Provisioner = (
  id: string,
  properties: Record<string, unknown>,
  options: ProvisionOptions & { readonly physicalName: string },
) => Promise<PhysicalResource>;

const arn = (o: ProvisionOptions, service: string, resource: string, region = o.region) =>
  `arn:aws:${service}:${region}:${o.accountId}:${resource}`;

const asString = (value: unknown): string | undefined =>
  value === undefined ? undefined : typeof value === 'string' ? value : JSON.stringify(value);

/** The attributes with a value: an API call's map leaves the others out. */
const definedOnly = (attributes: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(attributes).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );

const physical = (
  logicalId: string,
  type: string,
  ref: string,
  attributes: Record<string, string>,
): PhysicalResource => ({ logicalId, type, ref, attributes });

/** A template boolean, given as `true` or as the string CloudFormation also takes. */
const isTrue = (value: unknown): boolean => value === true || value === 'true';

const createQueue: Provisioner = async (id, p, o) => {
  const fifo = isTrue(p.FifoQueue);
  const name = (p.QueueName as string | undefined) ?? `${o.physicalName}${fifo ? '.fifo' : ''}`;
  const visibility = p.VisibilityTimeout === undefined ? 30 : Number(p.VisibilityTimeout);
  const attributes: Record<string, string | undefined> = {
    // SQS counts in whole seconds; a scaled timeout never rounds to zero.
    VisibilityTimeout: String(Math.max(1, Math.ceil(visibility * o.timeScale))),
    MessageRetentionPeriod: asString(p.MessageRetentionPeriod),
    DelaySeconds: asString(p.DelaySeconds),
    ReceiveMessageWaitTimeSeconds: asString(p.ReceiveMessageWaitTimeSeconds),
    RedrivePolicy: asString(p.RedrivePolicy),
    SqsManagedSseEnabled: asString(p.SqsManagedSseEnabled),
    FifoQueue: fifo ? 'true' : undefined,
    ContentBasedDeduplication: fifo ? asString(p.ContentBasedDeduplication) : undefined,
    DeduplicationScope: fifo ? asString(p.DeduplicationScope) : undefined,
    FifoThroughputLimit: fifo ? asString(p.FifoThroughputLimit) : undefined,
  };
  const created = await o.clients.sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: definedOnly(attributes),
    }),
  );
  const url = created.QueueUrl ?? '';
  const read = await o.clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  return physical(id, 'AWS::SQS::Queue', url, {
    Arn: read.Attributes?.QueueArn ?? arn(o, 'sqs', name),
    QueueName: name,
    QueueUrl: url,
  });
};

const createTopic: Provisioner = async (id, p, o) => {
  const fifo = isTrue(p.FifoTopic);
  const name = (p.TopicName as string | undefined) ?? `${o.physicalName}${fifo ? '.fifo' : ''}`;
  const attributes: Record<string, string | undefined> = {
    FifoTopic: fifo ? 'true' : undefined,
    ContentBasedDeduplication: fifo ? asString(p.ContentBasedDeduplication) : undefined,
    // Honoured by the moto launcher's sns_fifo_deduplication patch.
    FifoThroughputScope: fifo ? asString(p.FifoThroughputScope) : undefined,
  };
  const created = await o.clients.sns.send(
    new CreateTopicCommand({
      Name: name,
      Attributes: definedOnly(attributes),
    }),
  );
  const topicArn = created.TopicArn ?? arn(o, 'sns', name);
  return physical(id, 'AWS::SNS::Topic', topicArn, { TopicArn: topicArn, TopicName: name });
};

const createSubscription: Provisioner = async (id, p, o) => {
  const attributes: Record<string, string | undefined> = {
    RawMessageDelivery: asString(p.RawMessageDelivery),
    // Both in one Subscribe call: set one after the other, moto matches nothing.
    FilterPolicy: asString(p.FilterPolicy),
    FilterPolicyScope: asString(p.FilterPolicyScope),
    RedrivePolicy: asString(p.RedrivePolicy),
  };
  const subscribed = await o.clients.sns.send(
    new SubscribeCommand({
      TopicArn: p.TopicArn as string,
      Protocol: p.Protocol as string,
      Endpoint: p.Endpoint as string,
      ReturnSubscriptionArn: true,
      Attributes: definedOnly(attributes),
    }),
  );
  const subscriptionArn = subscribed.SubscriptionArn ?? '';
  return physical(id, 'AWS::SNS::Subscription', subscriptionArn, { Arn: subscriptionArn });
};

const createTable: Provisioner = async (id, p, o) => {
  const name = (p.TableName as string | undefined) ?? o.physicalName;
  const stream = p.StreamSpecification as { StreamViewType?: string } | undefined;
  await o.clients.dynamodb.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: p.KeySchema as CreateTableCommand['input']['KeySchema'],
      AttributeDefinitions:
        p.AttributeDefinitions as CreateTableCommand['input']['AttributeDefinitions'],
      BillingMode:
        (p.BillingMode as 'PAY_PER_REQUEST' | 'PROVISIONED' | undefined) ?? 'PROVISIONED',
      ProvisionedThroughput:
        p.ProvisionedThroughput as CreateTableCommand['input']['ProvisionedThroughput'],
      GlobalSecondaryIndexes:
        p.GlobalSecondaryIndexes as CreateTableCommand['input']['GlobalSecondaryIndexes'],
      LocalSecondaryIndexes:
        p.LocalSecondaryIndexes as CreateTableCommand['input']['LocalSecondaryIndexes'],
      StreamSpecification: stream?.StreamViewType
        ? {
            StreamEnabled: true,
            StreamViewType: stream.StreamViewType as 'NEW_AND_OLD_IMAGES',
          }
        : undefined,
    }),
  );
  const ttl = p.TimeToLiveSpecification as
    | { AttributeName?: string; Enabled?: boolean }
    | undefined;
  if (ttl?.Enabled && ttl.AttributeName) {
    await o.clients.dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: name,
        TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true },
      }),
    );
  }
  const described = await o.clients.dynamodb.send(new DescribeTableCommand({ TableName: name }));
  const attributes: Record<string, string> = {
    Arn: described.Table?.TableArn ?? arn(o, 'dynamodb', `table/${name}`),
  };
  if (described.Table?.LatestStreamArn) attributes.StreamArn = described.Table.LatestStreamArn;
  return physical(id, 'AWS::DynamoDB::Table', name, attributes);
};

/** Bucket names are global, lower case, at most 63 characters. */
const bucketName = (physicalName: string): string =>
  physicalName
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 63)
    .replace(/-+$/, '');

const createBucket: Provisioner = async (id, p, o) => {
  const name = (p.BucketName as string | undefined) ?? bucketName(o.physicalName);
  await o.clients.s3.send(
    new CreateBucketCommand({
      Bucket: name,
      ...(o.region === 'us-east-1'
        ? {}
        : { CreateBucketConfiguration: { LocationConstraint: o.region as 'eu-west-1' } }),
    }),
  );
  const versioning = p.VersioningConfiguration as { Status?: string } | undefined;
  if (versioning?.Status === 'Enabled') {
    await o.clients.s3.send(
      new PutBucketVersioningCommand({
        Bucket: name,
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    );
  }
  const cors = p.CorsConfiguration as { CorsRules?: Record<string, unknown>[] } | undefined;
  if (cors?.CorsRules) {
    await o.clients.s3.send(
      new PutBucketCorsCommand({
        Bucket: name,
        CORSConfiguration: {
          CORSRules: cors.CorsRules.map((rule) => ({
            AllowedMethods: rule.AllowedMethods as string[],
            AllowedOrigins: rule.AllowedOrigins as string[],
            AllowedHeaders: rule.AllowedHeaders as string[] | undefined,
            ExposeHeaders: rule.ExposedHeaders as string[] | undefined,
            MaxAgeSeconds: rule.MaxAge as number | undefined,
          })),
        },
      }),
    );
  }
  const lifecycle = p.LifecycleConfiguration as { Rules?: Record<string, unknown>[] } | undefined;
  if (lifecycle?.Rules) {
    await o.clients.s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: name,
        LifecycleConfiguration: { Rules: lifecycle.Rules.map(toLifecycleRule) },
      }),
    );
  }
  return physical(id, 'AWS::S3::Bucket', name, {
    Arn: `arn:aws:s3:::${name}`,
    DomainName: `${name}.s3.amazonaws.com`,
    RegionalDomainName: `${name}.s3.${o.region}.amazonaws.com`,
    WebsiteURL: `http://${name}.s3-website-${o.region}.amazonaws.com`,
  });
};

type LifecycleRule = NonNullable<
  NonNullable<PutBucketLifecycleConfigurationCommand['input']['LifecycleConfiguration']>['Rules']
>[number];

/** What `toLifecycleRule` carries over; anything else would be dropped in silence. */
const LIFECYCLE_RULE_FIELDS = new Set([
  'Id',
  'Status',
  'Prefix',
  'ExpirationInDays',
  'ExpiredObjectDeleteMarker',
  'NoncurrentVersionExpiration',
  'AbortIncompleteMultipartUpload',
]);

/** CloudFormation's lifecycle rule shape → the S3 API's. */
const toLifecycleRule = (rule: Record<string, unknown>): LifecycleRule => {
  const unknown = Object.keys(rule).filter((field) => !LIFECYCLE_RULE_FIELDS.has(field));
  if (unknown.length > 0) {
    throw new Error(`lifecycle rule ${String(rule.Id)}: ${unknown.join(', ')} not emulated`);
  }
  const noncurrent = rule.NoncurrentVersionExpiration as { NoncurrentDays?: number } | undefined;
  const abort = rule.AbortIncompleteMultipartUpload as { DaysAfterInitiation?: number } | undefined;
  return {
    ID: rule.Id as string | undefined,
    Status: (rule.Status as 'Enabled' | 'Disabled' | undefined) ?? 'Enabled',
    Filter: { Prefix: (rule.Prefix as string | undefined) ?? '' },
    // S3 takes the lone delete markers' clean-up as a kind of expiration.
    Expiration:
      rule.ExpirationInDays !== undefined
        ? { Days: rule.ExpirationInDays as number }
        : rule.ExpiredObjectDeleteMarker !== undefined
          ? { ExpiredObjectDeleteMarker: rule.ExpiredObjectDeleteMarker as boolean }
          : undefined,
    NoncurrentVersionExpiration:
      noncurrent?.NoncurrentDays === undefined
        ? undefined
        : { NoncurrentDays: noncurrent.NoncurrentDays },
    AbortIncompleteMultipartUpload:
      abort?.DaysAfterInitiation === undefined
        ? undefined
        : { DaysAfterInitiation: abort.DaysAfterInitiation },
  };
};

const createSecret: Provisioner = async (id, p, o) => {
  const name = (p.Name as string | undefined) ?? o.physicalName;
  // Like GenerateSecretString: a fresh random value, never one from the template.
  const value = (p.SecretString as string | undefined) ?? randomBytes(24).toString('hex');
  const created = await o.clients.secretsManager.send(
    new CreateSecretCommand({
      Name: name,
      SecretString: value,
      Description: p.Description as string,
    }),
  );
  const secretArn = created.ARN ?? arn(o, 'secretsmanager', `secret:${name}`);
  return physical(id, 'AWS::SecretsManager::Secret', secretArn, { Id: secretArn });
};

const PROVISIONERS: Record<string, Provisioner> = {
  'AWS::SQS::Queue': createQueue,
  'AWS::SNS::Topic': createTopic,
  'AWS::SNS::Subscription': createSubscription,
  'AWS::DynamoDB::Table': createTable,
  'AWS::S3::Bucket': createBucket,
  'AWS::SecretsManager::Secret': createSecret,
};

/** A stand-in for a resource nothing runs locally (or that the runtime starts later). */
const standIn = (id: string, type: string, o: ProvisionOptions, name: string): PhysicalResource => {
  switch (type) {
    case 'AWS::IAM::Role':
      return physical(id, type, name, { Arn: arn(o, 'iam', `role/${name}`, ''), RoleId: name });
    case 'AWS::KMS::Key': {
      const keyId = randomUUID();
      return physical(id, type, keyId, { Arn: arn(o, 'kms', `key/${keyId}`), KeyId: keyId });
    }
    case 'AWS::Logs::LogGroup':
      return physical(id, type, name, { Arn: arn(o, 'logs', `log-group:${name}:*`) });
    case 'AWS::Lambda::Function':
      return physical(id, type, name, { Arn: arn(o, 'lambda', `function:${name}`) });
    case 'AWS::Lambda::EventSourceMapping': {
      // Its Ref is the mapping's UUID, which Lambda files S3 on-failure records under.
      const uuid = randomUUID();
      return physical(id, type, uuid, {
        Id: uuid,
        EventSourceMappingArn: arn(o, 'lambda', `event-source-mapping:${uuid}`),
      });
    }
    case 'AWS::ApiGatewayV2::Api': {
      const apiId = randomBytes(5).toString('hex');
      return physical(id, type, apiId, {
        ApiId: apiId,
        ApiEndpoint: `https://${apiId}.execute-api.${o.region}.amazonaws.com`,
      });
    }
    case 'AWS::CloudWatch::Alarm':
      return physical(id, type, name, { Arn: arn(o, 'cloudwatch', `alarm:${name}`) });
    default:
      return physical(id, type, name, { Arn: arn(o, 'local', name) });
  }
};

/** A function's name and ARN, from a `FunctionName` property: its name, ARN or partial ARN. */
const functionOf = (
  value: string,
  resources: Readonly<Record<string, PhysicalResource>>,
  o: Pick<ProvisionOptions, 'accountId' | 'region'>,
): { name: string; arn: string } => {
  const known = Object.values(resources).find(
    (r) => r.type === 'AWS::Lambda::Function' && (r.ref === value || r.attributes.Arn === value),
  );
  if (known !== undefined) return { name: known.ref, arn: known.attributes.Arn ?? '' };
  const name = value.replace(/^.*function:/, '').replace(/:.*$/, '');
  return { name, arn: `arn:aws:lambda:${o.region}:${o.accountId}:function:${name}` };
};

/**
 * An `AWS::Lambda::Version`: `Ref` is the version's ARN, `Fn::GetAtt … Version` its number.
 * Versions of one function are numbered 1, 2, … in the order they are created, as Lambda
 * numbers what it publishes. Locally a version runs the function's current code.
 */
export const versionResource = (
  id: string,
  properties: Record<string, unknown>,
  resources: Readonly<Record<string, PhysicalResource>>,
  o: Pick<ProvisionOptions, 'accountId' | 'region'>,
): PhysicalResource => {
  const fn = functionOf(String(properties.FunctionName), resources, o);
  const published = Object.values(resources).filter(
    (r) => r.type === 'AWS::Lambda::Version' && r.attributes.FunctionArn?.startsWith(`${fn.arn}:`),
  ).length;
  const version = String(published + 1);
  const versionArn = `${fn.arn}:${version}`;
  return physical(id, 'AWS::Lambda::Version', versionArn, {
    Version: version,
    FunctionArn: versionArn,
  });
};

/** An `AWS::Lambda::Alias`: `Ref` (and `AliasArn`) is the alias's ARN, `<function ARN>:<name>`. */
export const aliasResource = (
  id: string,
  properties: Record<string, unknown>,
  resources: Readonly<Record<string, PhysicalResource>>,
  o: Pick<ProvisionOptions, 'accountId' | 'region'>,
): PhysicalResource => {
  const fn = functionOf(String(properties.FunctionName), resources, o);
  const aliasArn = `${fn.arn}:${String(properties.Name)}`;
  return physical(id, 'AWS::Lambda::Alias', aliasArn, { AliasArn: aliasArn });
};

/**
 * Orders logical ids so that each comes after everything it references (and its
 * DependsOn), as CloudFormation would create them.
 */
export const creationOrder = (template: CfnTemplate): string[] => {
  const ids = Object.keys(template.Resources);
  const dependencies = new Map(
    ids.map((id) => {
      const resource = template.Resources[id] as CfnResource;
      const dependsOn =
        resource.DependsOn === undefined
          ? []
          : typeof resource.DependsOn === 'string'
            ? [resource.DependsOn]
            : [...resource.DependsOn];
      const refs = [...referencedLogicalIds(resource.Properties ?? {})];
      return [id, [...dependsOn, ...refs].filter((dep) => dep !== id && dep in template.Resources)];
    }),
  );
  const ordered: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: string[]) => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') {
      throw new Error(`circular dependency: ${[...path, id].join(' → ')}`);
    }
    state.set(id, 'visiting');
    for (const dep of dependencies.get(id) ?? []) visit(dep, [...path, id]);
    state.set(id, 'done');
    ordered.push(id);
  };
  for (const id of ids.sort()) visit(id, []);
  return ordered;
};

/**
 * Creates, in dependency order, every resource of the template that matters at run
 * time, from the template's own properties with its intrinsics resolved to the
 * local physical names; gives every other resource a stand-in so references to it
 * resolve; and reports what it did not emulate.
 */
export const provision = async (options: ProvisionOptions): Promise<ProvisionResult> => {
  const resources: Record<string, PhysicalResource> = {};
  const notEmulated = new Map<string, number>();
  const unknown = new Map<string, number>();
  const notRun = new Map<string, string>();
  const runtime: string[] = [];
  const context: ResolveContext = {
    resources,
    accountId: options.accountId,
    region: options.region,
    stackName: options.stackName,
  };
  const count = (map: Map<string, number>, type: string) => map.set(type, (map.get(type) ?? 0) + 1);

  for (const id of creationOrder(options.template)) {
    const resource = options.template.Resources[id] as CfnResource;
    const physicalName = `${options.stackName}-${id}`;
    const provisioner = PROVISIONERS[resource.Type];
    if (resource.Type === 'Custom::S3BucketNotifications') {
      const properties = resolve(resource.Properties ?? {}, context) as Record<string, unknown>;
      const created = await createBucketNotifications(id, properties, { ...options, physicalName });
      resources[id] = created.physical;
      if (created.skipped !== undefined) notRun.set(resource.Type, created.skipped);
      continue;
    }
    if (provisioner) {
      const properties = resolve(resource.Properties ?? {}, context) as Record<string, unknown>;
      resources[id] = await provisioner(id, properties, { ...options, physicalName });
      continue;
    }
    if (resource.Type === 'AWS::Lambda::Version' || resource.Type === 'AWS::Lambda::Alias') {
      // Invoked through, it runs the function's current code; its UpdatePolicy is CodeDeploy's, ignored.
      runtime.push(id);
      const properties = resolve(resource.Properties ?? {}, context) as Record<string, unknown>;
      resources[id] = (resource.Type === 'AWS::Lambda::Version' ? versionResource : aliasResource)(
        id,
        properties,
        resources,
        options,
      );
      continue;
    }
    if (RUNTIME.has(resource.Type)) {
      runtime.push(id);
      // Functions keep their template name when they have one, like CloudFormation.
      const name =
        resource.Type === 'AWS::Lambda::Function' && resource.Properties?.FunctionName
          ? resolveString(resource.Properties.FunctionName, context)
          : physicalName;
      resources[id] = standIn(id, resource.Type, options, name);
      continue;
    }
    const missing =
      NOT_RUN[resource.Type] ??
      (resource.Type.startsWith('Custom::') && !NOT_EMULATED.has(resource.Type)
        ? 'a custom resource: its provider function is never called'
        : undefined);
    if (missing !== undefined) notRun.set(resource.Type, missing);
    else count(NOT_EMULATED.has(resource.Type) ? notEmulated : unknown, resource.Type);
    resources[id] = standIn(id, resource.Type, options, physicalName);
  }
  return { resources, notEmulated, unknown, notRun, runtime };
};
