import {
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import type { LocalCloudState } from 'cdk-local-cloud';
import { emulatorClientConfig } from 'cdk-local-cloud';
import type { Ceiling } from './result';

/** Runs `op` back to back in `clients` loops for `seconds`; counts what succeeded and failed. */
const hammer = async (
  clients: number,
  seconds: number,
  op: (client: number, i: number) => Promise<unknown>,
): Promise<{ perSecond: number; errors: number }> => {
  let done = 0;
  let errors = 0;
  const start = Date.now();
  const deadline = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let i = 0; Date.now() < deadline; i += 1) {
        try {
          await op(client, i);
          done += 1;
        } catch {
          errors += 1;
        }
      }
    }),
  );
  // Over the time the last call took to come back, not just the nominal seconds.
  return { perSecond: (done * 1000) / (Date.now() - start), errors };
};

/**
 * moto's own ceiling, against the local cloud's emulator directly (no function, no proxy):
 * transactions of two conditional puts of new items into a throwaway table with a stream
 * (the API's create), then GetItem of the items written.
 */
export const measureCeiling = async (
  state: LocalCloudState,
  clients: number,
  seconds: number,
): Promise<Ceiling> => {
  // One attempt per call: a retry would hide an error and count a call twice as slow.
  const dynamodb = new DynamoDBClient({ ...emulatorClientConfig(state), maxAttempts: 1 });
  const TableName = `bench-ceiling-${Date.now().toString(36)}`;
  await dynamodb.send(
    new CreateTableCommand({
      TableName,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  try {
    const written: string[] = [];
    const put = (pk: string, sk: string) => ({
      Put: {
        TableName,
        Item: { pk: { S: pk }, sk: { S: sk }, payload: { S: 'x'.repeat(200) } },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    });
    const writes = await hammer(clients, seconds, async (client, i) => {
      const pk = `customer-${client}-${i}`;
      await dynamodb.send(
        new TransactWriteItemsCommand({ TransactItems: [put(pk, 'profile'), put(pk, 'email')] }),
      );
      written.push(pk);
    });
    if (written.length === 0) throw new Error('no transaction succeeded: no item to read');
    const reads = await hammer(clients, seconds, (client, i) =>
      dynamodb.send(
        new GetItemCommand({
          TableName,
          Key: {
            pk: { S: written[(client * 997 + i) % written.length] as string },
            sk: { S: 'profile' },
          },
        }),
      ),
    );
    return {
      clients,
      seconds,
      transactWritesPerSecond: writes.perSecond,
      transactWriteErrors: writes.errors,
      getItemsPerSecond: reads.perSecond,
      getItemErrors: reads.errors,
    };
  } finally {
    await dynamodb.send(new DeleteTableCommand({ TableName })).catch(() => undefined);
    dynamodb.destroy();
  }
};
