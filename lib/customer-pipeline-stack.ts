import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { ARCHIVE_PREFIX, AVATAR_ROUTE } from '../lambda/shared/contract';
import { CUSTOMER_EVENT_TYPES, MESSAGE_TYPE_ATTRIBUTE } from '../lambda/shared/domain/events';
import type { StageConfig } from './config';
import { AssetsBucket } from './constructs/assets-bucket';
import { Avatars } from './constructs/avatars';
import { CanaryDeployments } from './constructs/canary';
import { CustomerApi } from './constructs/customer-api';
import { CustomerEvents } from './constructs/customer-events';
import { CustomerTable } from './constructs/customer-table';
import { EventConsumer } from './constructs/event-consumer';
import { MarketingContacts } from './constructs/marketing-contacts';
import { Monitoring } from './constructs/monitoring';
import { NotificationSecret } from './constructs/notification-secret';
import { metricsNamespace } from './constructs/pipeline-function';
import { FAILURE_BUCKET_WRITES_FILTER, StreamPublisher } from './constructs/stream-publisher';

export interface CustomerPipelineStackProps extends StackProps {
  readonly config: StageConfig;
}

const toRetentionDays = (days: number): logs.RetentionDays => {
  const valid = Object.values(logs.RetentionDays).filter((v) => typeof v === 'number');
  if (!valid.includes(days)) {
    throw new Error(
      `logRetentionDays ${days} is not a CloudWatch Logs retention: ${valid.join(', ')}`,
    );
  }
  return days as logs.RetentionDays;
};

/**
 * API → table → stream → publisher → topic → filtered queues → consumers, with a
 * dead-letter queue at every hop, a versioned assets bucket, the marketing contacts'
 * own bucket, the provider's secret, and the alarms and dashboard that watch it all.
 */
export class CustomerPipelineStack extends Stack {
  constructor(scope: Construct, id: string, props: CustomerPipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const retainData = config.retainData;
    const monitoring = new Monitoring(this, 'Monitoring', {
      dashboardName: `CustomerPipeline-${config.stage}`,
      alarmEmail: config.alarmEmail,
      retainData,
    });
    // canary: every function's invokers call its `live` alias, which CodeDeploy moves.
    const canary =
      config.deployment === 'canary'
        ? new CanaryDeployments(this, 'CanaryDeployments', {
            metricsNamespace: metricsNamespace(this),
            alarmTopic: monitoring.alarmTopic,
          })
        : undefined;
    const functionDefaults = {
      logRetention: toRetentionDays(config.logRetentionDays),
      removalPolicy: retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      canary,
    };

    // perCustomer: a FIFO topic and consumer queues, each customer a message group.
    const fifo = config.ordering === 'perCustomer';
    const { table } = new CustomerTable(this, 'CustomerTable', { retainData });
    const { topic } = new CustomerEvents(this, 'CustomerEvents', { retainData, fifo });
    const assets = new AssetsBucket(this, 'Assets', {
      avatarNoncurrentVersionExpirationDays: config.avatarNoncurrentVersionExpirationDays,
      corsAllowedOrigins: config.corsAllowedOrigins,
      retainData,
    });
    // Apart from the assets bucket, which the archive may list.
    const contacts = new MarketingContacts(this, 'MarketingContacts', {
      accessLogsBucket: assets.accessLogsBucket,
      retainData,
    });
    const notificationSecret = new NotificationSecret(this, 'NotificationSecret', {
      stage: config.stage,
      retainData,
    });

    const api = new CustomerApi(this, 'CustomerApi', {
      table,
      assetsBucket: assets,
      avatarMaxBytes: config.avatarMaxBytes,
      throttle: config.apiThrottle,
      ...functionDefaults,
    });

    const publisher = new StreamPublisher(this, 'StreamPublisher', {
      table,
      topic,
      accessLogsBucket: assets.accessLogsBucket,
      maxRecordAge: Duration.seconds(config.streamMaxRecordAgeSeconds),
      ...functionDefaults,
    });

    const welcome = new EventConsumer(this, 'WelcomeConsumer', {
      topic,
      handlerDir: 'welcome',
      fifo,
      description: 'Sends the welcome notification for each new customer, once',
      filterPolicy: {
        [MESSAGE_TYPE_ATTRIBUTE]: sns.SubscriptionFilter.stringFilter({
          allowlist: ['CustomerCreated'],
        }),
      },
      environment: {
        TABLE_NAME: table.tableName,
        NOTIFICATION_ENDPOINT: config.notificationEndpoint,
      },
      ...functionDefaults,
    });
    // Claim and complete the welcome record; the condition check reads the profile. GetItem
    // reads a claim a redelivery finds taken (a duplicate): a lifecycle without duplicates,
    // like the bench's, never uses it, and the local cloud's IAM report says so.
    table.grant(
      welcome.function,
      'dynamodb:ConditionCheckItem',
      'dynamodb:PutItem',
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
    );
    notificationSecret.grantReadTo(welcome.function);

    const archive = new EventConsumer(this, 'ArchiveConsumer', {
      topic,
      handlerDir: 'archive',
      fifo,
      description: 'Keeps every customer version in the versioned assets bucket',
      filterPolicy: {
        [MESSAGE_TYPE_ATTRIBUTE]: sns.SubscriptionFilter.stringFilter({
          allowlist: [...CUSTOMER_EVENT_TYPES],
        }),
      },
      environment: { BUCKET_NAME: assets.bucket.bucketName },
      ...functionDefaults,
    });
    // HeadObject reads the stored version (or tombstone; its 404 says whether a legacy
    // delete marker is current); every version, the tombstone included, is a PutObject.
    assets.grantObjectActions(archive.function, ARCHIVE_PREFIX, 's3:GetObject', 's3:PutObject');
    // Without ListBucket, S3 answers HeadObject of a missing key with 403 instead of 404.
    archive.function.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [assets.bucket.bucketArn] }),
    );

    const marketing = new EventConsumer(this, 'MarketingConsumer', {
      topic,
      handlerDir: 'marketing',
      fifo,
      description: 'Keeps the marketing contact list in step with consent',
      filterPolicyWithMessageBody: {
        marketingConsent: sns.FilterOrPolicy.filter(
          sns.SubscriptionFilter.stringFilter({ allowlist: ['granted', 'revoked'] }),
        ),
      },
      environment: {
        CONTACTS_BUCKET_NAME: contacts.bucket.bucketName,
        TABLE_NAME: table.tableName,
      },
      ...functionDefaults,
    });
    // The consent record and the profile in one read; a revoke's record is a transaction
    // with a condition check on the profile.
    table.grant(
      marketing.function,
      'dynamodb:BatchGetItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:PutItem',
    );
    // A revoked consent lists and deletes every version of the contact: DeleteObjects
    // needs DeleteObject for each key and DeleteObjectVersion for each VersionId.
    contacts.grantContactActions(
      marketing.function,
      's3:PutObject',
      's3:DeleteObject',
      's3:DeleteObjectVersion',
    );
    contacts.grantListContactVersions(marketing.function);

    const avatars = new Avatars(this, 'Avatars', {
      topic,
      table,
      assets,
      maxBytes: config.avatarMaxBytes,
      fifo,
      ...functionDefaults,
    });
    api.serveRoute(AVATAR_ROUTE, 'AvatarIntegration', avatars.function);

    monitoring.watchFailureBucket(
      'StreamPublisherFailures',
      publisher.failureBucket,
      FAILURE_BUCKET_WRITES_FILTER,
    );
    monitoring.watchHttpApi('Api', api.stage);
    monitoring.watchFunction('Api', api.function);
    monitoring.watchFunction('AvatarUpload', api.avatarUploadFunction);
    monitoring.watchFunction('StreamPublisher', publisher.function);
    monitoring.watchStreamConsumer('StreamPublisher', publisher.function);
    monitoring.watchDeadLetterQueue('AvatarUploadsDeadLetters', avatars.uploadsDeadLetterQueue);
    const avatarDeletions = avatars.deletions;
    for (const [name, consumer] of Object.entries({
      welcome,
      archive,
      marketing,
      avatar: avatarDeletions,
    })) {
      const label = name.charAt(0).toUpperCase() + name.slice(1);
      monitoring.watchFunction(`${label}Consumer`, consumer.function);
      monitoring.watchDeadLetterQueue(`${label}DeadLetters`, consumer.deadLetterQueue);
      monitoring.watchDeadLetterQueue(
        `${label}SubscriptionDeadLetters`,
        consumer.subscriptionDeadLetterQueue,
      );
    }

    monitoring.chartBusinessMetrics({
      api: api.function,
      avatarUpload: api.avatarUploadFunction,
      streamPublisher: publisher.function,
      welcome: welcome.function,
      archive: archive.function,
      marketing: marketing.function,
      avatar: avatars.function,
    });
    if (canary) monitoring.showAlarms('Canary rollback alarms', canary.alarms);

    new CfnOutput(this, 'ApiUrl', { value: api.stage.url });
    new CfnOutput(this, 'TableName', { value: table.tableName });
    new CfnOutput(this, 'TopicArn', { value: topic.topicArn });
    new CfnOutput(this, 'AssetsBucketName', { value: assets.bucket.bucketName });
    new CfnOutput(this, 'MarketingContactsBucketName', { value: contacts.bucket.bucketName });
    new CfnOutput(this, 'NotificationSecretArn', { value: notificationSecret.secret.secretArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: monitoring.alarmTopic.topicArn });
  }
}
