import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { whileCustomerExists } from '../shared/adapters/dynamodb';
import { TTL_ATTRIBUTE } from '../shared/contract';
import type { CustomerEvent } from '../shared/domain/events';
import { welcomeKey } from '../shared/domain/keys';

/** Longer than the function timeout (30 s), so a live attempt never loses its claim. */
const LOCK_SECONDS = 60;
/** An abandoned claim (the send never succeeded) disappears through the table's TTL. */
const PENDING_TTL_SECONDS = 24 * 60 * 60;

export type ClaimOutcome = 'claimed' | 'customer-deleted' | 'already-sent';

/** Another attempt holds the claim: fail, so SQS redelivers after the visibility timeout. */
export class WelcomeInFlight extends Error {
  constructor(readonly customerId: string) {
    super(`the welcome of customer ${customerId} is being sent by another attempt`);
    this.name = 'WelcomeInFlight';
  }
}

const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

/**
 * Claims the right to send `event`'s welcome: only while the customer still exists,
 * and only if no one sent it and no live attempt is sending it. An expired lock, or on a
 * redelivery the lock of an earlier attempt at the same event, is taken over, which is
 * safe because the provider dedupes by Idempotency-Key.
 */
export const claimWelcome = async (
  doc: DynamoDBDocumentClient,
  tableName: string,
  event: CustomerEvent,
  now: Date,
  { redelivered = false }: { readonly redelivered?: boolean } = {},
): Promise<ClaimOutcome> => {
  const customerId = event.customer.id;
  const nowSeconds = epochSeconds(now);
  try {
    await doc.send(
      new TransactWriteCommand({
        TransactItems: [
          whileCustomerExists(tableName, customerId),
          {
            Put: {
              TableName: tableName,
              Item: {
                ...welcomeKey(customerId),
                status: 'PENDING',
                eventId: event.eventId,
                claimedAt: now.toISOString(),
                lockedUntil: nowSeconds + LOCK_SECONDS,
                [TTL_ATTRIBUTE]: nowSeconds + PENDING_TTL_SECONDS,
              },
              // A redelivered message's earlier attempts are over: its own event's claim
              // is taken over at once, whatever the lock says.
              ConditionExpression: redelivered
                ? 'attribute_not_exists(pk) OR (#status = :pending AND (lockedUntil < :now OR eventId = :eventId))'
                : 'attribute_not_exists(pk) OR (#status = :pending AND lockedUntil < :now)',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: {
                ':pending': 'PENDING',
                ':now': nowSeconds,
                ...(redelivered && { ':eventId': event.eventId }),
              },
            },
          },
        ],
      }),
    );
    return 'claimed';
  } catch (error) {
    if (!(error instanceof TransactionCanceledException)) throw error;
    const [profile, claim] = error.CancellationReasons ?? [];
    if (profile?.Code === 'ConditionalCheckFailed') return 'customer-deleted';
    if (claim?.Code !== 'ConditionalCheckFailed') throw error;
  }
  const { Item } = await doc.send(
    new GetCommand({ TableName: tableName, Key: welcomeKey(customerId), ConsistentRead: true }),
  );
  if (Item?.status === 'SENT') return 'already-sent';
  throw new WelcomeInFlight(customerId);
};

/**
 * Marks the claim sent and keeps it (no TTL, no lock), so every redelivery is skipped.
 * A claim exists only while its customer does: it is taken on condition that the
 * profile exists, and the deletion removes it in the transaction that removes the
 * profile. So the one item without a TTL is never left behind for a deleted customer.
 */
export const markWelcomeSent = async (
  doc: DynamoDBDocumentClient,
  tableName: string,
  event: CustomerEvent,
  now: Date,
): Promise<void> => {
  await doc.send(
    new UpdateCommand({
      TableName: tableName,
      Key: welcomeKey(event.customer.id),
      UpdateExpression: `SET #status = :sent, sentAt = :sentAt REMOVE ${TTL_ATTRIBUTE}, lockedUntil`,
      // Fails if the claim vanished or changed hands: the record is retried, and the
      // retry re-claims, re-sends under the same Idempotency-Key, and marks it.
      ConditionExpression: 'eventId = :eventId',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':sent': 'SENT',
        ':sentAt': now.toISOString(),
        ':eventId': event.eventId,
      },
    }),
  );
};
