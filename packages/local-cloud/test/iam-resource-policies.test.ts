import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import {
  alarmActionDenial,
  bucketNotificationDenial,
  subscriptionDenial,
} from '../src/iam/resource-policies';
import type { ResolveContext } from '../src/intrinsics';
import type { CfnTemplate, PhysicalResource } from '../src/model';

// SNS delivers to a queue only if the queue's policy lets sns.amazonaws.com send from that
// topic: the policy CDK writes for a subscription does; another topic's, or none, does not.

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

const app = new App();
const stack = new Stack(app, 'Policies', { env: { account: ACCOUNT, region: REGION } });
const topic = new sns.Topic(stack, 'Events');
const other = new sns.Topic(stack, 'Other');
const subscribed = new sqs.Queue(stack, 'Subscribed', { enforceSSL: true });
topic.addSubscription(new subscriptions.SqsSubscription(subscribed));
const forOther = new sqs.Queue(stack, 'ForOther');
forOther.addToResourcePolicy(
  new iam.PolicyStatement({
    principals: [new iam.ServicePrincipal('sns.amazonaws.com')],
    actions: ['sqs:SendMessage'],
    resources: [forOther.queueArn],
    conditions: { ArnEquals: { 'aws:SourceArn': other.topicArn } },
  }),
);
new sqs.Queue(stack, 'Bare');
const denied = new sqs.Queue(stack, 'Denied');
denied.addToResourcePolicy(
  new iam.PolicyStatement({
    principals: [new iam.ServicePrincipal('sns.amazonaws.com')],
    actions: ['sqs:SendMessage'],
    resources: [denied.queueArn],
  }),
);
denied.addToResourcePolicy(
  new iam.PolicyStatement({
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: ['sqs:*'],
    resources: [denied.queueArn],
  }),
);
const template = Template.fromStack(stack).toJSON() as CfnTemplate;

const resources: Record<string, PhysicalResource> = {};
for (const [id, r] of Object.entries(template.Resources)) {
  const name = id.toLowerCase();
  const arn =
    r.Type === 'AWS::SQS::Queue'
      ? `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`
      : `arn:aws:sns:${REGION}:${ACCOUNT}:${name}`;
  const ref = r.Type === 'AWS::SQS::Queue' ? `http://127.0.0.1:1/${ACCOUNT}/${name}` : arn;
  resources[id] = { logicalId: id, type: r.Type, ref, attributes: { Arn: arn } };
}
const context: ResolveContext = {
  resources,
  accountId: ACCOUNT,
  region: REGION,
  stackName: 'Policies',
};
const arnOf = (prefix: string) =>
  Object.values(resources).find(
    (r) => r.logicalId.startsWith(prefix) && r.type !== 'AWS::SQS::QueuePolicy',
  )?.attributes.Arn ?? '';

test.each([
  ['the policy CDK writes for the subscription', 'Subscribed', 'Events', undefined],
  [
    'another topic’s policy',
    'ForOther',
    'Events',
    /no statement of the queue's policy .* lets sns\.amazonaws\.com send/,
  ],
  ['no policy', 'Bare', 'Events', /the queue has no policy/],
  ['an explicit deny', 'Denied', 'Events', /denies sns\.amazonaws\.com sqs:SendMessage/],
])('%s', (_, queue, from, expected) => {
  const denial = subscriptionDenial(template, context, {
    topicArn: arnOf(from),
    queueArn: arnOf(queue),
  });
  if (expected === undefined) expect(denial).toBeUndefined();
  else expect(denial).toMatch(expected);
});

// CloudWatch publishes an alarm to an encrypted topic only if the key's policy lets
// cloudwatch.amazonaws.com use the key; the AWS managed key (alias/aws/sns) never does.
describe('alarm actions on encrypted topics', () => {
  const alarmApp = new App();
  const alarms = new Stack(alarmApp, 'Alarms', { env: { account: ACCOUNT, region: REGION } });
  const allowing = new kms.Key(alarms, 'Allowing');
  allowing.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: {
        StringEquals: { 'aws:SourceAccount': ACCOUNT },
        ArnLike: { 'aws:SourceArn': `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:*` },
      },
    }),
  );
  const topics = {
    Allowed: new sns.Topic(alarms, 'Allowed', { masterKey: allowing }),
    DefaultKey: new sns.Topic(alarms, 'DefaultKey', { masterKey: new kms.Key(alarms, 'Plain') }),
    AwsManaged: new sns.Topic(alarms, 'AwsManaged', {
      masterKey: kms.Alias.fromAliasName(alarms, 'SnsKey', 'alias/aws/sns'),
    }),
    Unencrypted: new sns.Topic(alarms, 'Unencrypted'),
  };
  const alarmTemplate = Template.fromStack(alarms).toJSON() as CfnTemplate;
  const physical: Record<string, PhysicalResource> = {};
  for (const [id, r] of Object.entries(alarmTemplate.Resources)) {
    const name = id.toLowerCase();
    const arn =
      r.Type === 'AWS::KMS::Key'
        ? `arn:aws:kms:${REGION}:${ACCOUNT}:key/${name}`
        : `arn:aws:sns:${REGION}:${ACCOUNT}:${name}`;
    physical[id] = {
      logicalId: id,
      type: r.Type,
      ref: r.Type === 'AWS::KMS::Key' ? name : arn,
      attributes: { Arn: arn },
    };
  }
  const alarmContext: ResolveContext = {
    resources: physical,
    accountId: ACCOUNT,
    region: REGION,
    stackName: 'Alarms',
  };
  const topicArn = (name: keyof typeof topics) =>
    physical[alarms.getLogicalId(topics[name].node.defaultChild as sns.CfnTopic)]?.ref ?? '';
  const alarmArn = `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:errors`;

  test.each([
    ['a key whose policy lets CloudWatch use it', 'Allowed', undefined],
    [
      'a key with CDK’s default policy (the account only)',
      'DefaultKey',
      /the key's policy does not let cloudwatch\.amazonaws\.com kms:GenerateDataKey, kms:Decrypt/,
    ],
    ['the AWS managed key', 'AwsManaged', /alias\/aws\/sns.*CloudWatch cannot use/],
    ['no key', 'Unencrypted', undefined],
  ] as const)('%s', (_, topic, expected) => {
    const denial = alarmActionDenial(alarmTemplate, alarmContext, {
      alarmArn,
      topicArn: topicArn(topic),
    });
    if (expected === undefined) expect(denial).toBeUndefined();
    else expect(denial).toMatch(expected);
  });

  test('the key’s condition on the alarm’s ARN is applied', () => {
    expect(
      alarmActionDenial(alarmTemplate, alarmContext, {
        alarmArn: `arn:aws:cloudwatch:${REGION}:999999999999:alarm:errors`,
        topicArn: topicArn('Allowed'),
      }),
    ).toMatch(/does not let cloudwatch/);
  });
});

// S3 sends a bucket's event notifications to a queue only if the queue's policy lets
// s3.amazonaws.com send from that bucket: the policy CDK writes for the notification does.
describe('bucket notifications to a queue', () => {
  const s3App = new App();
  const uploads = new Stack(s3App, 'Uploads', { env: { account: ACCOUNT, region: REGION } });
  const bucket = new s3.Bucket(uploads, 'Bucket');
  const other = new s3.Bucket(uploads, 'Other');
  const notified = new sqs.Queue(uploads, 'Notified', { enforceSSL: true });
  bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(notified), {
    prefix: 'incoming/',
  });
  const bare = new sqs.Queue(uploads, 'Bare');
  const uploadsTemplate = Template.fromStack(uploads).toJSON() as CfnTemplate;
  const physical: Record<string, PhysicalResource> = {};
  for (const [id, r] of Object.entries(uploadsTemplate.Resources)) {
    const name = id.toLowerCase();
    physical[id] =
      r.Type === 'AWS::SQS::Queue'
        ? {
            logicalId: id,
            type: r.Type,
            ref: `http://127.0.0.1:1/${ACCOUNT}/${name}`,
            attributes: { Arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}` },
          }
        : { logicalId: id, type: r.Type, ref: name, attributes: { Arn: `arn:aws:s3:::${name}` } };
  }
  const uploadsContext: ResolveContext = {
    resources: physical,
    accountId: ACCOUNT,
    region: REGION,
    stackName: 'Uploads',
  };
  const arn = (construct: { node: { defaultChild?: unknown } }) =>
    physical[uploads.getLogicalId(construct.node.defaultChild as never)]?.attributes.Arn ?? '';

  test.each([
    ['the policy CDK writes for the notification', bucket, notified, undefined],
    [
      'another bucket',
      other,
      notified,
      /no statement of the queue's policy .* lets s3\.amazonaws\.com send from arn:aws:s3:::other/,
    ],
    [
      'a queue without a policy',
      bucket,
      bare,
      /the queue has no policy, so s3\.amazonaws\.com may not send to it/,
    ],
  ] as const)('%s', (_, from, to, expected) => {
    const denial = bucketNotificationDenial(uploadsTemplate, uploadsContext, {
      bucketArn: arn(from),
      queueArn: arn(to),
    });
    if (expected === undefined) expect(denial).toBeUndefined();
    else expect(denial).toMatch(expected);
  });
});
