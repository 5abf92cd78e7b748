import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AwsClients } from '../src/provision';
import { provision } from '../src/provision';

/**
 * A single-table design's table (string `pk`/`sk`, a stream of both images), created the
 * way the local cloud creates a template's table; resolves to its name and stream ARN.
 */
export const createCustomerTable = async (
  dynamodb: DynamoDBClient,
  name: string,
): Promise<{ name: string; streamArn: string }> => {
  const { resources } = await provision({
    template: {
      Resources: {
        Table: {
          Type: 'AWS::DynamoDB::Table',
          Properties: {
            TableName: name,
            KeySchema: ['pk', 'sk'].map((key, index) => ({
              AttributeName: key,
              KeyType: index === 0 ? 'HASH' : 'RANGE',
            })),
            AttributeDefinitions: ['pk', 'sk'].map((key) => ({
              AttributeName: key,
              AttributeType: 'S',
            })),
            BillingMode: 'PAY_PER_REQUEST',
            StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
          },
        },
      },
    },
    stackName: name,
    accountId: '123456789012',
    region: 'us-east-1',
    // Only the table's client is used.
    clients: { dynamodb } as unknown as AwsClients,
    timeScale: 1,
  });
  return { name, streamArn: resources.Table?.attributes.StreamArn ?? '' };
};
