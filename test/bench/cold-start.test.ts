import { unmarshall } from '@aws-sdk/util-dynamodb';
import * as esbuild from 'esbuild';
import {
  type HarnessReport,
  overheadRatio,
  parseHarnessOutput,
  runFailure,
} from '../../bench/cold-start';
import {
  buildOptions,
  composition,
  defaultExternals,
  groupOf,
  OUR_CODE,
  packageOf,
  SHARED_SDK,
  sdkClientsIn,
  sdkClientsModule,
  zodShare,
} from '../../bench/cold-start/build';
import {
  apiCreateEvent,
  avatarUploadEvent,
  batchFailureOf,
  customerCreatedEvent,
  HANDLERS,
  httpFailureOf,
  streamInsertEvent,
} from '../../bench/cold-start/handlers';
import { render, sdkFloorSentence, summaryRows } from '../../bench/cold-start/report';
import type { ColdStartResult, HandlerResult } from '../../bench/cold-start/result';
import { operationOf, responseFor, type StubRequest } from '../../bench/cold-start/stub';
import { measure } from '../../bench/stats';
import {
  customerIdSchema,
  customerInputSchema,
  customerSchema,
} from '../../lambda/shared/domain/customer';
import { customerEventSchema } from '../../lambda/shared/domain/events';
import { readStreamRecord } from '../../lambda/stream-publisher/stream-record';
import { BUNDLE_ALIASES, bundleOptions, CREATE_REQUIRE_BANNER } from '../../lib/bundling';
import { PipelineFunction } from '../../lib/constructs/pipeline-function';
import { synthPipeline } from '../synth';
import { constructsOfType, logicalIdOf, resourceById } from '../template-queries';

const request = (overrides: Partial<StubRequest>): StubRequest => ({
  method: 'POST',
  path: '/',
  query: new URLSearchParams(),
  headers: {},
  body: '',
  ...overrides,
});

describe('the handlers the cold start invokes', () => {
  test('the events are ones the handlers accept, so the success path runs', () => {
    expect(customerEventSchema.safeParse(customerCreatedEvent).success).toBe(true);
    expect(customerInputSchema.safeParse(JSON.parse(apiCreateEvent().body)).success).toBe(true);
    const upload = avatarUploadEvent();
    expect(upload.routeKey).toBe('POST /customers/{id}/avatar-upload');
    expect(customerIdSchema.safeParse(upload.pathParameters?.id).success).toBe(true);
    expect(upload.rawPath).toBe(`/customers/${upload.pathParameters?.id}/avatar-upload`);
    const [record] = streamInsertEvent().Records;
    expect(readStreamRecord(record as never).outcome).toBe('publish');
  });

  test('marketing acts on the event only because it grants consent', () => {
    expect(customerCreatedEvent.marketingConsent).toBe('granted');
  });

  test('each handler gets the variables its function has in the template, so its code loads', () => {
    const { stack, template } = synthPipeline('dev');
    const inTemplate = Object.fromEntries(
      constructsOfType(stack, PipelineFunction).map((fn) => {
        const { Environment } = resourceById(template, logicalIdOf(stack, fn)).Properties;
        const names = Object.keys((Environment as { Variables?: object })?.Variables ?? {});
        // The harness sets the service name itself, as the template does.
        return [fn.handlerDir, names.filter((name) => name !== 'POWERTOOLS_SERVICE_NAME').sort()];
      }),
    );
    const given = Object.fromEntries(
      HANDLERS.map((spec) => [
        spec.name,
        Object.keys(spec.environment('http://127.0.0.1:1')).sort(),
      ]),
    );
    expect(given).toEqual(inTemplate);
  });

  test('only a 201 or an empty list of batch item failures counts as success', () => {
    expect(httpFailureOf(201)({ statusCode: 201, body: '{}' })).toBeUndefined();
    expect(httpFailureOf(201)({ statusCode: 422, body: 'bad' })).toContain('got 422');
    expect(batchFailureOf({ batchItemFailures: [] })).toBeUndefined();
    expect(batchFailureOf({ batchItemFailures: [{ itemIdentifier: '1' }] })).toContain('1 record');
    expect(batchFailureOf(undefined)).toContain('expected a batch response');
  });
});

describe('the harness output', () => {
  test('reads the last marked line, whatever the handler logged around it', () => {
    const stdout = [
      '{"level":"INFO","message":"archive updated"}',
      '@@cold-start-result@@{"importStart":1,"loaded":2,"invoked":3,"result":{"a":1}}',
      '',
    ].join('\n');
    expect(parseHarnessOutput(stdout)).toEqual({
      importStart: 1,
      loaded: 2,
      invoked: 3,
      result: { a: 1 },
    });
  });

  test('fails loudly when the harness reported nothing', () => {
    expect(() => parseHarnessOutput('just logs\n')).toThrow('printed no result');
  });

  test('a run fails on a thrown error, a failed result or unexpected AWS calls', () => {
    const [api] = HANDLERS;
    if (api === undefined) throw new Error('no handlers');
    const ok: HarnessReport = { importStart: 0, result: { statusCode: 201 } };
    expect(runFailure(api, ok, ['dynamodb:TransactWriteItems'])).toBeUndefined();
    expect(runFailure(api, { importStart: 0, error: 'Boom' }, [])).toContain('threw: Boom');
    expect(runFailure(api, { importStart: 0, result: { statusCode: 500 } }, [])).toContain(
      'got 500',
    );
    expect(runFailure(api, ok, ['dynamodb:GetItem'])).toContain(
      'expected the calls [dynamodb:TransactWriteItems], saw [dynamodb:GetItem]',
    );
  });
});

describe('the AWS stub', () => {
  test('names the operation of each protocol', () => {
    expect(
      operationOf(request({ headers: { 'x-amz-target': 'DynamoDB_20120810.TransactWriteItems' } })),
    ).toBe('dynamodb:TransactWriteItems');
    expect(
      operationOf(request({ headers: { 'x-amz-target': 'secretsmanager.GetSecretValue' } })),
    ).toBe('secretsmanager:GetSecretValue');
    expect(
      operationOf(
        request({
          headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
          body: 'Action=PublishBatch&Version=2010-03-31',
        }),
      ),
    ).toBe('sns:PublishBatch');
    expect(operationOf(request({ method: 'HEAD', path: '/b/k' }))).toBe('s3:HeadObject');
    expect(
      operationOf(
        request({ method: 'GET', path: '/b', query: new URLSearchParams('versions=&prefix=k') }),
      ),
    ).toBe('s3:ListObjectVersions');
    expect(operationOf(request({ method: 'PUT', path: '/b/k' }))).toBe('s3:PutObject');
    expect(operationOf(request({ path: '/notify' }))).toBe('notify:POST');
  });

  test('confirms every entry of a PublishBatch by its id', () => {
    const body =
      'Action=PublishBatch&PublishBatchRequestEntries.member.1.Id=0&PublishBatchRequestEntries.member.2.Id=1';
    const { status, body: xml } = responseFor('sns:PublishBatch', request({ body }));
    expect(status).toBe(200);
    expect(xml).toContain('<Successful><member><Id>0</Id>');
    expect(xml).toContain('<member><Id>1</Id>');
    expect(xml).toContain('<Failed/>');
  });

  test('answers what the consumers need: an absent archive, a versioned put, the secret', () => {
    expect(responseFor('s3:HeadObject', request({})).status).toBe(404);
    expect(responseFor('s3:PutObject', request({})).headers).toMatchObject({
      etag: expect.any(String),
      'x-amz-version-id': expect.any(String),
    });
    const secret = responseFor(
      'secretsmanager:GetSecretValue',
      request({ body: JSON.stringify({ SecretId: 'arn:secret' }) }),
    );
    expect(JSON.parse(secret.body)).toMatchObject({
      ARN: 'arn:secret',
      SecretString: expect.any(String),
    });
    expect(responseFor('notify:POST', request({})).status).toBe(202);
  });

  test('holds one customer profile, for the avatar upload route, and no other item', () => {
    const getItem = (sk: string) =>
      JSON.parse(
        responseFor(
          'dynamodb:GetItem',
          request({ body: JSON.stringify({ Key: { pk: { S: 'CUSTOMER#x' }, sk: { S: sk } } }) }),
        ).body,
      ) as { Item?: Parameters<typeof unmarshall>[0] };
    const { Item } = getItem('PROFILE');
    expect(Item).toBeDefined();
    expect(customerSchema.safeParse(unmarshall(Item ?? {})).success).toBe(true);
    expect(getItem('MARKETING#CONSENT')).toEqual({});
  });

  test('refuses an operation it does not know, so the run fails', () => {
    expect(responseFor('dynamodb:Scan', request({})).status).toBe(501);
  });
});

describe('the two bundles', () => {
  test('ours: what PipelineFunction ships, minified ESM with everything inside', () => {
    const options = buildOptions('ours', '/e.ts', '/out', ['@aws-sdk/*']);
    // The functions' own options, so the bench measures the bundles that deploy.
    expect(options).toEqual({
      ...bundleOptions('/e.ts', '/out'),
      metafile: true,
      logLevel: 'warning',
    });
    expect(options).toMatchObject({
      alias: BUNDLE_ALIASES,
      format: 'esm',
      minify: true,
      target: 'node24',
      platform: 'node',
      mainFields: ['module', 'main'],
      banner: { js: CREATE_REQUIRE_BANNER },
      outfile: '/out/index.mjs',
      metafile: true,
    });
    expect(options.external).toBeUndefined();
  });

  test("NodejsFunction's default: CommonJS, readable, the SDK left to the runtime", () => {
    const options = buildOptions('default', '/e.ts', '/out', ['@aws-sdk/*', '@smithy/*']);
    expect(options).toMatchObject({
      outfile: '/out/index.js',
      external: ['@aws-sdk/*', '@smithy/*'],
    });
    expect(options.format).toBeUndefined();
    expect(options.minify).toBeUndefined();
    expect(options.banner).toBeUndefined();
  });

  test('Smithy is external only under the feature flag', () => {
    const flag = '@aws-cdk/aws-lambda-nodejs:sdkV3ExcludeSmithyPackages';
    expect(defaultExternals({ [flag]: true })).toEqual(['@aws-sdk/*', '@smithy/*']);
    expect(defaultExternals({})).toEqual(['@aws-sdk/*']);
  });
});

describe('bundle composition', () => {
  const deps = new Set(['@aws-sdk/client-s3', 'zod']);
  const inputs = {
    'lambda/api/handler.ts': 100,
    'node_modules/@smithy/core/dist-es/index.js': 500,
    'node_modules/@smithy/types/dist-es/index.js': 0,
    'node_modules/@aws-sdk/client-s3/dist-es/S3Client.js': 300,
    'node_modules/@aws-sdk/core/dist-es/index.js': 200,
    'node_modules/@aws-sdk/nested-clients/dist-es/sts.js': 150,
    'node_modules/zod/v4/classic/schemas.js': 250,
    'node_modules/zod/v4/locales/en.js': 20,
    'node_modules/zod/v4/locales/de.js': 0,
    'node_modules/@aws-lambda-powertools/logger/lib/esm/Logger.js': 40,
    'node_modules/a/node_modules/tslib/tslib.es6.mjs': 5,
  };

  test('an input belongs to the package of its innermost node_modules', () => {
    expect(packageOf('node_modules/a/node_modules/tslib/tslib.es6.mjs')).toBe('tslib');
    expect(packageOf('node_modules/@smithy/core/dist-es/index.js')).toBe('@smithy/core');
    expect(packageOf('lambda/api/handler.ts')).toBeUndefined();
  });

  test('groups families, keeps direct SDK dependencies apart, pools the rest of the SDK', () => {
    expect(groupOf('node_modules/@smithy/core/x.js', deps)).toBe('@smithy/*');
    expect(groupOf('node_modules/@aws-lambda-powertools/batch/x.js', deps)).toBe(
      '@aws-lambda-powertools/*',
    );
    expect(groupOf('node_modules/@aws-sdk/client-s3/x.js', deps)).toBe('@aws-sdk/client-s3');
    expect(groupOf('node_modules/@aws-sdk/core/x.js', deps)).toBe(SHARED_SDK);
    expect(groupOf('lambda/shared/domain/keys.ts', deps)).toBe(OUR_CODE);
  });

  test('lists the largest groups first and pools what is past the top', () => {
    expect(composition(inputs, deps, 3)).toEqual([
      { group: '@smithy/*', bytes: 500 },
      { group: SHARED_SDK, bytes: 350 },
      { group: '@aws-sdk/client-s3', bytes: 300 },
      { group: 'everything else', bytes: 415 },
    ]);
  });

  test("measures zod's share and which locales made it in", () => {
    expect(zodShare(inputs)).toEqual({ bytes: 270, locales: ['en'], flavour: 'classic' });
  });

  test('tells zod/mini from classic zod', () => {
    const mini = {
      'node_modules/zod/v4/mini/schemas.js': 30,
      'node_modules/zod/v4/core/schemas.js': 80,
      'node_modules/zod/v4/classic/schemas.js': 0,
    };
    expect(zodShare(mini)).toEqual({ bytes: 110, locales: [], flavour: 'mini' });
  });
});

const variant = (load: number, invoke: number, total: number, bytes: number) => ({
  bundleBytes: bytes,
  load: measure([load - 1, load, load + 1], 'ms'),
  firstInvoke: measure([invoke, invoke, invoke], 'ms'),
  ready: measure([total - 40, total - 40, total - 40], 'ms'),
  total: measure([total - 2, total, total + 2], 'ms'),
});

const handler = (name: HandlerResult['handler'], oursTotal: number): HandlerResult => {
  const bare = 40;
  const ours = variant(60, 30, oursTotal, 600 * 1024);
  const dflt = variant(120, 30, 200, 270 * 1024);
  const ratio = (oursTotal - bare) / (200 - bare);
  return {
    handler: name,
    ours,
    default: dflt,
    composition: [
      { group: '@smithy/*', bytes: 160 * 1024 },
      { group: '@aws-sdk/client-s3', bytes: 100 * 1024 },
    ],
    zod: { bytes: 89 * 1024, locales: ['en'], flavour: 'classic' },
    overheadRatio: ratio,
    readyRatio: ratio,
    goalMet: ratio <= 0.5,
  };
};

const result = (handlers: HandlerResult[]): ColdStartResult => ({
  node: 'v24.0.0',
  esbuild: '0.28.2',
  cpu: 'test CPU × 2',
  target: 'node24',
  runsPerVariant: 3,
  loadAverage: { before: 0.5, after: 0.7 },
  defaultExternals: ['@aws-sdk/*', '@smithy/*'],
  bare: measure([39, 40, 41], 'ms'),
  bareReady: measure([29, 30, 31], 'ms'),
  handlers,
  zodImportStyles: { namespace: 83 * 1024, named: 443 * 1024, mini: 14 * 1024 },
});

describe("the floor: a handler's SDK clients alone", () => {
  test('finds the client packages a bundle holds, from its metafile', () => {
    expect(
      sdkClientsIn({
        'node_modules/@aws-sdk/client-s3/dist-es/S3Client.js': 900,
        'node_modules/@aws-sdk/client-dynamodb/dist-es/DynamoDBClient.js': 800,
        'node_modules/@aws-sdk/client-sns/dist-es/index.js': 0,
        'node_modules/@aws-sdk/lib-dynamodb/dist-es/index.js': 700,
        'lambda/api/handler.ts': 100,
      }),
    ).toEqual(['@aws-sdk/client-dynamodb', '@aws-sdk/client-s3']);
  });

  test('a module that creates each client and does nothing else', () => {
    const code = sdkClientsModule(['@aws-sdk/client-dynamodb', '@aws-sdk/client-s3']);
    expect(code).toContain("import { DynamoDBClient as C0 } from '@aws-sdk/client-dynamodb';");
    expect(code).toContain("import { S3Client as C1 } from '@aws-sdk/client-s3';");
    expect(code).toContain('new C0({}), new C1({})');
    expect(code).toContain('export const handler');
    expect(() => esbuild.transformSync(code, { loader: 'ts', format: 'esm' })).not.toThrow();
  });

  const withClients = (load: number): HandlerResult => ({
    ...handler('marketing', 150),
    sdkClients: {
      packages: ['@aws-sdk/client-dynamodb', '@aws-sdk/client-s3'],
      bytes: 339 * 1024,
      load: measure([load], 'ms'),
    },
  });

  test('clients that alone outgrow what the budget leaves for loading rule out every bundling', () => {
    // Budget 80 ms (half the default's 160 over bare), less ours' first invocation (30): 50 left.
    const text = sdkFloorSentence(withClients(55), 80);
    expect(text).toContain('DynamoDBClient and S3Client');
    expect(text).toContain('load in 55 ms, more than the 50 ms the budget leaves');
    expect(text).toContain('no bundling meets the goal');
    expect(text).toContain('The rest of ours’ load (5 ms)'.replace('’', "'"));
  });

  test('clients within it point at the rest of the bundle', () => {
    const text = sdkFloorSentence(withClients(20), 80);
    expect(text).toContain('within the 50 ms');
    expect(text).not.toContain('no bundling meets the goal');
  });

  test('nothing to say for a handler without SDK clients, and the miss line carries it', () => {
    expect(sdkFloorSentence(handler('api', 150), 80)).toBe('');
    expect(render(result([withClients(55)]))).toContain('Its SDK clients alone');
  });
});

describe('the cold-start report', () => {
  test('the ratio compares the time each variant spends over bare Node', () => {
    const m = (median: number) => measure([median], 'ms');
    expect(overheadRatio(m(90), m(140), m(40))).toBe(0.5);
  });

  test('one table row per handler, with both variants and the verdict', () => {
    const text = render(result([handler('api', 100), handler('archive', 150)]));
    expect(text).toContain('## Cold start per handler');
    expect(text).toContain(
      '| api | 600 KiB / 270 KiB | 60 ± 1 / 120 ± 1 ms | 30 ± 0 / 30 ± 0 ms |',
    );
    expect(text).toMatch(/\| api \|.*\| 60 \/ 160 ms \| 0\.38× \| met \| 0\.38× \|/);
    expect(text).toMatch(/\| archive \|.*\| 0\.69× \| \*\*missed\*\* \|/);
    expect(text).toContain('only the en locale');
  });

  test('explains a miss: the budget and what dominates', () => {
    const text = render(result([handler('api', 150)]));
    expect(text).toContain('**api** (0.69×, budget 80 ms)');
    expect(text).toContain('Loading dominates');
  });

  test('points out a handler whose processes linger after the result', () => {
    const slowExit = handler('welcome', 100);
    const lingering = { ...slowExit, ours: { ...slowExit.ours, ready: measure([20], 'ms') } };
    expect(render(result([lingering]))).toContain(
      "welcome's processes take 70 ms longer than bare Node to exit after the result",
    );
    expect(render(result([handler('api', 100)]))).not.toContain('longer than bare Node to exit');
  });

  test('says so when every handler meets the goal', () => {
    expect(render(result([handler('api', 100)]))).toContain('Every handler meets the goal');
  });

  test('names the zod API the bundles carry, in the text and the summary', () => {
    const mini = (name: HandlerResult['handler'], locales: string[]): HandlerResult => ({
      ...handler(name, 150),
      zod: { bytes: 25 * 1024, locales, flavour: 'mini' },
    });
    const bundles = result([mini('api', ['en']), mini('welcome', [])]);
    const text = render(bundles);
    expect(text).toContain('zod (zod/mini) adds 25 KiB–25 KiB to each bundle');
    expect(summaryRows(bundles)[2]).toMatchObject({
      value: '25 KiB (zod/mini), locales: en',
      met: true,
    });
  });

  test('summary rows: one per handler and one for zod', () => {
    const rows = summaryRows(result([handler('api', 100), handler('welcome', 190)]));
    expect(rows.map((row) => row.met)).toEqual([true, false, true]);
    expect(rows[0]).toMatchObject({ value: '60 vs 160 ms (0.38×)', goal: '≤ 0.5×' });
  });
});
