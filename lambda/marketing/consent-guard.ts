import {
  type AttributeValue,
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod/mini';
import { whileCustomerExists } from '../shared/adapters/dynamodb';
import { TTL_ATTRIBUTE } from '../shared/contract';
import { marketingConsentKey, profileKey } from '../shared/domain/keys';

/** The newest consent change applied to a customer; after a deletion, its tombstone. */
export const consentRecordSchema = z.object({
  consent: z.enum(['granted', 'revoked']),
  version: z.int(),
  eventId: z.optional(z.string()),
  /** The customer was deleted: nothing may bring the contact back. */
  deleted: z.optional(z.boolean()),
  deletedAt: z.optional(z.string()),
  /** Epoch seconds; only for a deleted customer. */
  [TTL_ATTRIBUTE]: z.optional(z.number()),
});
export type ConsentRecord = z.infer<typeof consentRecordSchema>;

/** What a grant needs to know before it writes the contact. */
export interface ConsentState {
  /** The newest change applied, if any. */
  readonly recorded?: ConsentRecord;
  /** The profile exists: false once the customer is deleted (ids are never reused). */
  readonly customerExists: boolean;
}

/** DynamoDB left a key of a BatchGetItem unread (throttling): the record is retried. */
export class UnprocessedRead extends Error {
  constructor(customerId: string) {
    super(`DynamoDB left the consent state of customer ${customerId} unread; retry`);
    this.name = 'UnprocessedRead';
  }
}

/** Parsing drops the keys and anything else a consumer does not read. */
const toRecord = (item: Record<string, unknown> | undefined): ConsentRecord | undefined =>
  item === undefined ? undefined : consentRecordSchema.parse(item);

/** The consent record and whether the customer still exists, in one consistent read. */
export const readConsentState = async (
  doc: DynamoDBDocumentClient,
  tableName: string,
  customerId: string,
): Promise<ConsentState> => {
  const guardKey = marketingConsentKey(customerId);
  const { Responses, UnprocessedKeys } = await doc.send(
    new BatchGetCommand({
      RequestItems: {
        [tableName]: {
          Keys: [guardKey, profileKey(customerId)],
          ProjectionExpression: `sk, consent, version, eventId, deleted, deletedAt, ${TTL_ATTRIBUTE}`,
          ConsistentRead: true,
        },
      },
    }),
  );
  if ((UnprocessedKeys?.[tableName]?.Keys?.length ?? 0) > 0) throw new UnprocessedRead(customerId);
  const items = Responses?.[tableName] ?? [];
  return {
    recorded: toRecord(items.find((item) => item.sk === guardKey.sk)),
    customerExists: items.some((item) => item.sk === profileKey(customerId).sk),
  };
};

/** Whether `record` was recorded, and if not, the newer record that stood in its way. */
export type RecordOutcome =
  | { readonly recorded: true }
  | { readonly recorded: false; readonly newer: ConsentRecord | undefined };

/** The record returned with a failed condition (`ReturnValuesOnConditionCheckFailure`). */
const recordIn = (item: Record<string, AttributeValue> | undefined): ConsentRecord | undefined =>
  toRecord(item === undefined ? undefined : unmarshall(item));

const putIfNewer = (
  tableName: string,
  customerId: string,
  record: ConsentRecord,
  orSame: boolean,
) => ({
  TableName: tableName,
  Item: { ...marketingConsentKey(customerId), ...record },
  ConditionExpression: `attribute_not_exists(pk) OR version ${orSame ? '<=' : '<'} :version`,
  ExpressionAttributeValues: { ':version': record.version },
  ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
});

/**
 * Records `record` as the newest change applied, unless a newer one is recorded
 * (with `orSame`, unless a strictly newer one is). Used where no profile check is
 * needed: a grant that has just seen the customer, whose deletion since would have
 * left a tombstone above it, and the deletion's own revoke, which expires.
 */
export const recordConsent = async (
  doc: DynamoDBDocumentClient,
  tableName: string,
  customerId: string,
  record: ConsentRecord,
  { orSame }: { readonly orSame: boolean },
): Promise<RecordOutcome> => {
  try {
    await doc.send(new PutCommand(putIfNewer(tableName, customerId, record, orSame)));
    return { recorded: true };
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) {
      return { recorded: false, newer: recordIn(error.Item) };
    }
    throw error;
  }
};

/**
 * Like `recordConsent` with `orSame`, but only while the customer exists: a revoke of a
 * customer deleted long enough ago that the tombstone expired must not leave a record
 * without an expiry. Resolves to `customer-deleted` when the profile is gone.
 */
export const recordConsentWhileCustomerExists = async (
  doc: DynamoDBDocumentClient,
  tableName: string,
  customerId: string,
  record: ConsentRecord,
): Promise<RecordOutcome | 'customer-deleted'> => {
  try {
    await doc.send(
      new TransactWriteCommand({
        TransactItems: [
          whileCustomerExists(tableName, customerId),
          { Put: putIfNewer(tableName, customerId, record, true) },
        ],
      }),
    );
    return { recorded: true };
  } catch (error) {
    if (!(error instanceof TransactionCanceledException)) throw error;
    const [profile, guard] = error.CancellationReasons ?? [];
    if (profile?.Code === 'ConditionalCheckFailed') return 'customer-deleted';
    if (guard?.Code === 'ConditionalCheckFailed') {
      return { recorded: false, newer: recordIn(guard.Item) };
    }
    throw error;
  }
};
