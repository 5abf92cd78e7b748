import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { marketingConsentKey } from '../shared/domain/keys';

export interface ConsentRecord {
  readonly consent: 'granted' | 'revoked';
  readonly version: number;
  readonly eventId: string;
  /** Epoch seconds (the table's TTL attribute); only for a deleted customer. */
  readonly expiresAt?: number;
}

/** The version of the newest consent change applied, if any. */
export const readConsentVersion = async (
  doc: DynamoDBDocumentClient,
  tableName: string,
  customerId: string,
): Promise<number | undefined> => {
  const { Item } = await doc.send(
    new GetCommand({
      TableName: tableName,
      Key: marketingConsentKey(customerId),
      ConsistentRead: true,
    }),
  );
  return typeof Item?.version === 'number' ? Item.version : undefined;
};

/**
 * Records `record` as the newest change applied, unless a newer one is recorded
 * (with `orSame`, unless a strictly newer one is). Returns false when it is not.
 */
export const recordConsent = async (
  doc: DynamoDBDocumentClient,
  tableName: string,
  customerId: string,
  record: ConsentRecord,
  { orSame }: { readonly orSame: boolean },
): Promise<boolean> => {
  try {
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: { ...marketingConsentKey(customerId), ...record },
        ConditionExpression: `attribute_not_exists(pk) OR version ${orSame ? '<=' : '<'} :version`,
        ExpressionAttributeValues: { ':version': record.version },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
};
