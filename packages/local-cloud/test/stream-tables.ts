import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * A table on moto keyed like the customer table (string `pk`/`sk`), on demand, with a
 * stream of both images; resolves to its stream's ARN.
 */
export const createCustomerTable = async (
  dynamodb: DynamoDBClient,
  name: string,
): Promise<{ name: string; streamArn: string }> => {
  const created = await dynamodb.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  return { name, streamArn: created.TableDescription?.LatestStreamArn ?? '' };
};
