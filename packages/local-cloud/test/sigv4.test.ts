import { apiCredentials, signApiRequest, verifyApiRequest } from '../src/sigv4';

// The HTTP API's AWS_IAM routes check the caller's SigV4 signature as API Gateway does.

const CREDENTIALS = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'secret' };
const REQUEST = {
  method: 'PUT',
  url: 'http://127.0.0.1:4567/customers/ada%40example.com?x=1',
  headers: { 'content-type': 'application/json', 'if-match': '"1"' },
  body: '{"fullName":"Ada"}',
};

/** As the API receives it: the signed headers, and the Host the client's URL gives. */
const signed = async (request = REQUEST) => ({
  ...request,
  headers: { ...(await signApiRequest(CREDENTIALS, 'us-east-1', request)), host: '127.0.0.1:4567' },
});

test('a request signed with the credentials verifies', async () => {
  expect(await verifyApiRequest(CREDENTIALS, 'us-east-1', await signed())).toBe(true);
});

test.each([
  ['unsigned', async () => REQUEST],
  ['another body', async () => ({ ...(await signed()), body: '{"fullName":"Eve"}' })],
  ['another path', async () => ({ ...(await signed()), url: REQUEST.url.replace('ada', 'eve') })],
  [
    'a signed header changed',
    async () => {
      const request = await signed();
      return { ...request, headers: { ...request.headers, 'if-match': '"2"' } };
    },
  ],
  [
    'another secret',
    async () => ({
      ...REQUEST,
      headers: await signApiRequest(
        { ...CREDENTIALS, secretAccessKey: 'guess' },
        'us-east-1',
        REQUEST,
      ),
    }),
  ],
  [
    'another region',
    async () => ({ ...REQUEST, headers: await signApiRequest(CREDENTIALS, 'eu-west-1', REQUEST) }),
  ],
])('%s: refused', async (_, request) => {
  expect(await verifyApiRequest(CREDENTIALS, 'us-east-1', await request())).toBe(false);
});

test('a header added after signing (not among those signed) does not matter', async () => {
  const request = await signed();
  expect(
    await verifyApiRequest(CREDENTIALS, 'us-east-1', {
      ...request,
      headers: { ...request.headers, 'user-agent': 'curl/8' },
    }),
  ).toBe(true);
});

test('the credentials are the environment’s, else the emulator’s test/test', () => {
  expect(apiCredentials({})).toEqual({ accessKeyId: 'test', secretAccessKey: 'test' });
  expect(apiCredentials({ AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' })).toEqual({
    accessKeyId: 'a',
    secretAccessKey: 'b',
  });
});

test('a request signed by another SigV4 implementation (botocore, as curl and the AWS CLI sign) verifies', async () => {
  // Signed by botocore's SigV4Auth for execute-api: no x-amz-content-sha256 header.
  const request = {
    method: 'POST',
    url: 'http://127.0.0.1:4567/customers',
    body: '{"a":1}',
    headers: {
      host: '127.0.0.1:4567',
      'content-type': 'application/json',
      'x-amz-date': '20261201T215142Z',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20261201/us-east-1/execute-api/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=10b814d5eb3b59cfdd2da3ba309b27109f84749b9dc391fa947831cf5b06b0f8',
    },
  };
  expect(await verifyApiRequest(CREDENTIALS, 'us-east-1', request)).toBe(true);
  expect(await verifyApiRequest(CREDENTIALS, 'us-east-1', { ...request, body: '{"a":2}' })).toBe(
    false,
  );
});
