import type { Context } from 'aws-lambda';

/** A Lambda context as the runtime hands it to `functionName`'s handler. */
export const lambdaContext = (
  functionName = 'test-function',
  awsRequestId = 'request-1',
): Context => ({
  callbackWaitsForEmptyEventLoop: true,
  functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
  memoryLimitInMB: '256',
  awsRequestId,
  logGroupName: `/aws/lambda/${functionName}`,
  logStreamName: '2025/03/04/[$LATEST]0123456789abcdef',
  getRemainingTimeInMillis: () => 10_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
});

/** A handler whose context a test may leave out. */
export type WithContext<H> = H extends (event: infer E, context: Context) => infer R
  ? (event: E, context?: Context) => R
  : never;

/** `handler`, given a fresh `lambdaContext()` unless the test passes its own. */
export const withContext =
  <E, R>(handler: (event: E, context: Context) => R) =>
  (event: E, context: Context = lambdaContext()): R =>
    handler(event, context);
