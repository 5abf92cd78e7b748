import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Customer } from '../../lambda/shared/domain/customer';

export const ID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';

/** A customer as the table holds it: `storedItem` is its profile item. */
export const stored: Customer = {
  id: ID,
  fullName: 'Ada Lovelace',
  email: 'ada@example.com',
  gitHubUsername: 'ada',
  dateOfBirth: '1815-12-10',
  marketingOptIn: false,
  createdAt: '2024-01-01T00:00:00.000Z',
  updatedAt: '2024-02-01T00:00:00.000Z',
  version: 3,
};
export const storedItem = { pk: `CUSTOMER#${ID}`, sk: 'PROFILE', ...stored };

/** An avatar as the avatar function records it on the profile. */
export const storedAvatar: NonNullable<Customer['avatar']> = {
  key: `avatars/${ID}.jpg`,
  versionId: 'v-published-1',
  contentType: 'image/jpeg',
  width: 256,
  height: 128,
  bytes: 7311,
  updatedAt: '2025-02-15T00:00:00.000Z',
  sequencer: '0000000000000000000000000000000A',
};

export interface EventOptions {
  readonly pathParameters?: Record<string, string>;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
}

/** An API Gateway HTTP API (payload v2) event for `routeKey`, path parameters filled in. */
export const apiEvent = (routeKey: string, options: EventOptions = {}): APIGatewayProxyEventV2 => {
  const [method = 'GET', template = '/'] = routeKey.split(' ');
  const rawPath = Object.entries(options.pathParameters ?? {}).reduce(
    (path, [name, value]) => path.replace(`{${name}}`, value),
    template,
  );
  return {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...options.headers },
    pathParameters: options.pathParameters,
    body: options.body,
    isBase64Encoded: options.isBase64Encoded ?? false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api1234567',
      domainName: 'api1234567.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'api1234567',
      http: {
        method,
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: '192.0.2.1',
        userAgent: 'jest',
      },
      requestId: 'request-1',
      routeKey,
      stage: '$default',
      time: '01/Jan/2025:00:00:00 +0000',
      timeEpoch: 1735689600000,
    },
  };
};

/** The JSON body of a response, after checking it is JSON that no cache keeps. */
export const bodyOf = (response: APIGatewayProxyStructuredResultV2): Record<string, unknown> => {
  expect(response.headers).toMatchObject({
    'content-type': 'application/json',
    'cache-control': 'no-store',
  });
  return JSON.parse(response.body ?? 'null');
};
