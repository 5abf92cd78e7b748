import {
  HeadObjectCommand,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandOutput,
  type ObjectVersion,
} from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { contactKey } from '../../lambda/shared/contract';
import { namedResources } from '../../lib/resource-names';
import { type LocalCloud, resourceNamed, templateOf } from './local-cloud';

/** A key's own versions, not those of keys it is a prefix of. */
export const exactVersions = (output: ListObjectVersionsCommandOutput, key: string) =>
  (output.Versions ?? []).filter((v) => v.Key === key);
export const exactMarkers = (output: ListObjectVersionsCommandOutput, key: string) =>
  (output.DeleteMarkers ?? []).filter((m) => m.Key === key);

/** A customer event as the publisher sends it, for a test to send by hand. */
export const customerEvent = (
  type: 'CustomerCreated' | 'CustomerUpdated',
  customer: Record<string, unknown>,
  eventId: string,
) => ({
  eventId,
  type,
  occurredAt: new Date().toISOString(),
  version: customer.version,
  customer,
  marketingConsent: customer.marketingOptIn ? 'granted' : 'none',
});

/** What the pipeline keeps, read from a running local cloud. */
export const pipelineQueries = (cloud: LocalCloud) => {
  const bucket = resourceNamed(cloud, 'assets', 'bucket').ref;
  const contactsBucket = resourceNamed(cloud, 'marketing-contacts', 'bucket').ref;
  const tableName = resourceNamed(cloud, 'customers', 'table').ref;

  const versionsOf = (key: string, inBucket = bucket): Promise<ListObjectVersionsCommandOutput> =>
    cloud.s3.send(new ListObjectVersionsCommand({ Bucket: inBucket, Prefix: key }));

  /** Every version under `prefix`, by key: one listing, however many keys (paged). */
  const versionsByKey = async (
    prefix: string,
    inBucket = bucket,
  ): Promise<Map<string, ObjectVersion[]>> => {
    const byKey = new Map<string, ObjectVersion[]>();
    let page: ListObjectVersionsCommandOutput | undefined;
    do {
      page = await cloud.s3.send(
        new ListObjectVersionsCommand({
          Bucket: inBucket,
          Prefix: prefix,
          KeyMarker: page?.NextKeyMarker,
          VersionIdMarker: page?.NextVersionIdMarker,
        }),
      );
      for (const version of page.Versions ?? []) {
        const key = version.Key ?? '';
        byKey.set(key, [...(byKey.get(key) ?? []), version]);
      }
    } while (page.IsTruncated);
    return byKey;
  };

  /** What the archive's current version of a customer is, and that version's number. */
  const archiveHead = async (
    id: string,
  ): Promise<{ state: 'absent' | 'tombstone' | 'customer'; version?: string }> => {
    try {
      const head = await cloud.s3.send(
        new HeadObjectCommand({ Bucket: bucket, Key: `customers/${id}.json` }),
      );
      return {
        state: head.Metadata?.deleted === 'true' ? 'tombstone' : 'customer',
        version: head.Metadata?.version,
      };
    } catch (error) {
      if ((error as Error).name === 'NotFound') return { state: 'absent' };
      throw error;
    }
  };

  return {
    bucket,
    contactsBucket,
    tableName,
    versionsOf,
    versionsByKey,
    contactVersionsOf: (id: string) => versionsOf(contactKey(id), contactsBucket),

    /** Messages in a queue, visible or in flight. */
    queueDepth: async (queueUrl: string): Promise<number> => {
      const { Attributes } = await cloud.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return (
        Number(Attributes?.ApproximateNumberOfMessages) +
        Number(Attributes?.ApproximateNumberOfMessagesNotVisible)
      );
    },

    /** Every item of a customer's partition, read consistently. */
    partitionItems: async (id: string): Promise<Record<string, unknown>[]> =>
      (
        await cloud.documents.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': `CUSTOMER#${id}` },
            ConsistentRead: true,
          }),
        )
      ).Items ?? [],

    archiveHead,
    archiveState: async (id: string) => (await archiveHead(id)).state,

    /** Every dead-letter queue of the stack. */
    deadLetterQueueUrls: () =>
      [...namedResources(templateOf(cloud))]
        .filter(
          ([, { role }]) =>
            role === 'dead-letter-queue' || role === 'subscription-dead-letter-queue',
        )
        .map(([logicalId]) => cloud.state.resources[logicalId]?.ref ?? ''),
  };
};
export type PipelineQueries = ReturnType<typeof pipelineQueries>;
