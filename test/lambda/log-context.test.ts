import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { AVATAR_UPLOAD_ROUTE, CUSTOMER_ROUTES } from '../../lambda/shared/contract';
import { apiEvent, ID } from './http-fixtures';
import { lambdaContext } from './lambda-context';
import { batch, sqsRecord } from './sqs-fixtures';

/*
 * Every handler attaches the invocation's Lambda context to its logger, so each line it
 * logs names the function and the request (function_name, function_request_id, …).
 */

Object.assign(process.env, {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  TABLE_NAME: 'customers',
  BUCKET_NAME: 'assets',
  AVATAR_MAX_BYTES: '5242880',
  CONTACTS_BUCKET_NAME: 'contacts',
  TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:customer-events',
  FAILURE_BUCKET_NAME: 'stream-failures',
  NOTIFICATION_ENDPOINT: 'https://notifications.example.com/v1/messages',
  NOTIFICATION_API_KEY_SECRET_ARN:
    'arn:aws:secretsmanager:eu-west-1:123456789012:secret:notification-key',
  // The stream publisher's one line for a record it skips is a debug line.
  POWERTOOLS_LOG_LEVEL: 'DEBUG',
});

const ddb = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);
const sns = mockClient(SNSClient);

afterEach(() => {
  ddb.reset();
  s3.reset();
  sns.reset();
  jest.restoreAllMocks();
});

type AnyHandler = (event: never, context: Context) => Promise<unknown>;

const load = (handlerDir: string): AnyHandler =>
  jest.requireActual<{ handler: AnyHandler }>(`../../lambda/${handlerDir}/handler`).handler;

/** The JSON lines written while `run` runs. */
const loggedDuring = async (run: () => Promise<unknown>): Promise<Record<string, unknown>[]> => {
  const chunks: string[] = [];
  const capture = (chunk: string | Uint8Array): boolean => {
    chunks.push(String(chunk));
    return true;
  };
  jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  await run().catch(() => undefined);
  jest.restoreAllMocks();
  return (
    chunks
      .join('')
      .split('\n')
      // The business metrics' EMF lines are not log lines.
      .filter((line) => line.startsWith('{') && !line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
  );
};

/** A stream record of an item that is not a profile: the publisher skips it, with a debug line. */
const notAProfile: DynamoDBStreamEvent = {
  Records: [
    {
      eventID: 'event-1',
      eventName: 'INSERT',
      eventSource: 'aws:dynamodb',
      dynamodb: {
        Keys: { pk: { S: `CUSTOMER#${ID}` }, sk: { S: 'NOTIFICATION#WELCOME' } },
        SequenceNumber: '1',
      },
    },
  ],
};

const notJson = batch(sqsRecord('msg-1', 'not json'));

it.each([
  // An AWS failure the API answers with 500, logged as an error.
  ['api', apiEvent(CUSTOMER_ROUTES.get, { pathParameters: { idOrEmail: ID } })],
  [
    'avatar-upload',
    apiEvent(AVATAR_UPLOAD_ROUTE, {
      pathParameters: { id: ID },
      body: JSON.stringify({ contentType: 'image/png' }),
    }),
  ],
  ['stream-publisher', notAProfile],
  // A message that is not a customer event fails, logged as an error.
  ['welcome', notJson],
  ['archive', notJson],
  ['marketing', notJson],
])('%s: every line it logs names the function and the request', async (handlerDir, event) => {
  ddb.onAnyCommand().rejects(new Error('the table is unreachable'));
  const handler = load(handlerDir);
  const context = lambdaContext(`customer-pipeline-${handlerDir}`, `request-of-${handlerDir}`);

  const lines = await loggedDuring(() => handler(event as never, context));

  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    expect(line).toEqual(
      expect.objectContaining({
        function_name: `customer-pipeline-${handlerDir}`,
        function_request_id: `request-of-${handlerDir}`,
        function_arn: context.invokedFunctionArn,
      }),
    );
  }
});
