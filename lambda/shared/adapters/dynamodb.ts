import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { profileKey } from '../domain/keys';

/** A document client that drops `undefined` fields (an optional field left out is not stored). */
export const createDocumentClient = (): DynamoDBDocumentClient =>
  DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });

/**
 * The transaction item that holds a transaction to the customer existing: its profile
 * is there. Ids are never reused, so once it fails it always will.
 */
export const whileCustomerExists = (tableName: string, customerId: string) => ({
  ConditionCheck: {
    TableName: tableName,
    Key: profileKey(customerId),
    ConditionExpression: 'attribute_exists(pk)',
  },
});
