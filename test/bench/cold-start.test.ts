import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import * as esbuild from 'esbuild';
import { STUB_PNG_SIZE, smallPng } from '../../bench/avatar/images';
import {
  type HarnessReport,
  overheadRatio,
  parseHarnessOutput,
  photonTimes,
  runFailure,
} from '../../bench/cold-start';
import {
  buildOptions,
  bundle as bundleProbe,
  composition,
  copyBundleAssets,
  defaultExternals,
  groupOf,
  holdsPhoton,
  metricsProbeModules,
  OUR_CODE,
  packageOf,
  photonProbeModule,
  REPO_ROOT as REPO,
  SHARED_SDK,
  sdkClientsIn,
  sdkClientsModule,
  zodShare,
} from '../../bench/cold-start/build';
import {
  apiCreateEvent,
  avatarUploadEvent,
  avatarUploadSqsEvent,
  batchFailureOf,
  childEnvironment,
  customerCreatedEvent,
  HANDLERS,
  httpFailureOf,
  streamInsertEvent,
} from '../../bench/cold-start/handlers';
import {
  metricsAddedMs,
  photonLine,
  render,
  sdkFloorSentence,
  summaryRows,
} from '../../bench/cold-start/report';
import type { ColdStartResult, HandlerResult } from '../../bench/cold-start/result';
import {
  objectResponse,
  operationOf,
  responseFor,
  type StubRequest,
  startStub,
} from '../../bench/cold-start/stub';
import { measure } from '../../bench/stats';
import { parseUploadNotification } from '../../lambda/avatar/upload-notification';
import { inspectAvatar } from '../../lambda/shared/domain/avatar-image';
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

  test('the avatar function gets an upload from its uploads queue, of a customer, with a version and a sequencer', () => {
    const avatar = HANDLERS.find((spec) => spec.name === 'avatar');
    const [record] = avatarUploadSqsEvent().Records;
    if (avatar === undefined || record === undefined) throw new Error('no avatar upload');
    // The handler tells an upload from a deletion by the queue the record came from.
    expect(record.eventSourceARN).toBe(avatar.environment('http://127.0.0.1:1').UPLOADS_QUEUE_ARN);
    const [upload, ...more] = parseUploadNotification(record.messageId, record.body);
    expect(more).toEqual([]);
    expect(upload).toMatchObject({
      key: `avatar-uploads/${upload?.customerId}`,
      versionId: expect.any(String),
      size: smallPng().length,
    });
    expect(upload?.customerId).toBe(avatarUploadEvent().pathParameters?.id);
    expect(avatar.memorySize).toBe(1024);
    expect(avatar.expectedOperations).toEqual([
      'dynamodb:GetItem',
      's3:GetObject',
      's3:PutObject',
      'dynamodb:UpdateItem',
      's3:DeleteObject',
    ]);
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
        // The harness sets the service name and the metrics' namespace itself, as the template does.
        const own = ['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE'];
        return [fn.handlerDir, names.filter((name) => !own.includes(name)).sort()];
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

  test('each child is told its service name and the metrics’ namespace, as every function is', () => {
    for (const spec of HANDLERS) {
      expect(childEnvironment(spec, 'http://127.0.0.1:1', {})).toEqual(
        expect.objectContaining({
          POWERTOOLS_SERVICE_NAME: spec.name,
          POWERTOOLS_METRICS_NAMESPACE: expect.any(String),
        }),
      );
    }
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
    expect(JSON.parse(secret.body.toString())).toMatchObject({
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
        ).body.toString(),
      ) as { Item?: Parameters<typeof unmarshall>[0] };
    const { Item } = getItem('PROFILE');
    expect(Item).toBeDefined();
    expect(customerSchema.safeParse(unmarshall(Item ?? {})).success).toBe(true);
    expect(getItem('MARKETING#CONSENT')).toEqual({});
  });

  test('serves the upload as a real PNG the avatar function accepts, read in one ranged GET', () => {
    const ranged = responseFor(
      's3:GetObject',
      request({ method: 'GET', path: '/b/avatar-uploads/x', headers: { range: 'bytes=0-65535' } }),
    );
    const png = smallPng();
    expect(ranged.status).toBe(206);
    expect(ranged.headers).toMatchObject({
      'content-type': 'image/png',
      'content-range': `bytes 0-${png.length - 1}/${png.length}`,
    });
    expect(Buffer.isBuffer(ranged.body) && ranged.body.equals(png)).toBe(true);
    // Under the 64 KiB head, so the function never asks for the whole object.
    expect(png.length).toBeLessThan(64 * 1024);
    expect(inspectAvatar(png, 'image/png', png.length)).toEqual({
      accepted: true,
      contentType: 'image/png',
      ...STUB_PNG_SIZE,
    });
    const whole = responseFor('s3:GetObject', request({ method: 'GET', path: '/b/k' }));
    expect(whole.status).toBe(200);
    expect(whole.headers['content-range']).toBeUndefined();
  });

  test('a ranged read of a larger object gets its slice and the total size', () => {
    const content = Buffer.from('0123456789');
    const head = objectResponse(content, 'image/jpeg', 'bytes=0-3');
    expect(head.status).toBe(206);
    expect(head.headers['content-range']).toBe('bytes 0-3/10');
    expect(head.body.toString()).toBe('0123');
    expect(objectResponse(content, 'image/jpeg', 'bytes=4-').body.toString()).toBe('456789');
    expect(objectResponse(content, 'image/jpeg', 'bytes=20-30').status).toBe(416);
  });

  test('deletes the upload (204), writes the avatar with a version, records it', () => {
    expect(responseFor('s3:DeleteObject', request({ method: 'DELETE' }))).toMatchObject({
      status: 204,
      body: '',
    });
    expect(responseFor('s3:PutObject', request({})).headers['x-amz-version-id']).toBeDefined();
    expect(responseFor('dynamodb:UpdateItem', request({})).status).toBe(200);
  });

  test('sends a binary body byte for byte, and text bodies as before', async () => {
    const stub = await startStub();
    try {
      const object = await fetch(`${stub.url}/bucket/avatar-uploads/x?versionId=v1`, {
        headers: { range: 'bytes=0-65535' },
      });
      expect(object.status).toBe(206);
      expect(Buffer.from(await object.arrayBuffer()).equals(smallPng())).toBe(true);
      const item = await fetch(stub.url, {
        method: 'POST',
        headers: { 'x-amz-target': 'DynamoDB_20120810.UpdateItem' },
        body: '{}',
      });
      expect(await item.json()).toEqual({});
      expect(stub.takeOperations()).toEqual(['s3:GetObject', 'dynamodb:UpdateItem']);
    } finally {
      await stub.close();
    }
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

describe("Photon's WebAssembly beside a bundle", () => {
  const photonInput = 'node_modules/@silvia-odwyer/photon-node/photon_rs.js';
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cold-start-assets-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('is copied for a bundle that holds Photon, whichever variant, and for no other', () => {
    const file = path.join(dir, 'index.js');
    expect(copyBundleAssets({ file, bytes: 1, inputs: { [photonInput]: 500 } })).toEqual([
      'photon_rs_bg.wasm',
    ]);
    expect(fs.statSync(path.join(dir, 'photon_rs_bg.wasm')).size).toBeGreaterThan(1_000_000);
    const other = path.join(dir, 'other');
    fs.mkdirSync(other);
    expect(
      copyBundleAssets({
        file: path.join(other, 'index.mjs'),
        bytes: 1,
        inputs: { 'lambda/api/handler.ts': 9 },
      }),
    ).toEqual([]);
    expect(fs.readdirSync(other)).toEqual([]);
  });

  test('a bundle holds Photon when its code made it into the output', () => {
    expect(holdsPhoton({ [photonInput]: 500, 'lambda/avatar/handler.ts': 10 })).toBe(true);
    expect(holdsPhoton({ [photonInput]: 0 })).toBe(false);
  });

  test("the probe times Photon's load apart from its first and a warm resize", () => {
    const code = photonProbeModule();
    expect(code).toContain("from './lambda/shared/adapters/avatar-resize'");
    expect(code).toContain("require('@silvia-odwyer/photon-node')");
    expect(() => esbuild.transformSync(code, { loader: 'ts', format: 'esm' })).not.toThrow();
    expect(photonTimes({ loadMs: 70, firstResizeMs: 150, warmResizeMs: 20 })).toEqual({
      loadMs: 70,
      firstResizeMs: 150,
      warmResizeMs: 20,
    });
    expect(() => photonTimes({ loadMs: 70 })).toThrow('the photon probe answered');
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

  test("says how much of a Photon handler's cold start is Photon: its load and first resize", () => {
    const base = handler('avatar', 200);
    const avatar: HandlerResult = {
      ...base,
      ours: { ...base.ours, firstInvoke: measure([150], 'ms') },
      photon: {
        wasmBytes: 1_881_634,
        image: '480 × 360 PNG (7,492 B)',
        load: measure([70, 72, 74], 'ms'),
        firstResize: measure([40, 48, 50], 'ms'),
        warmResize: measure([20, 20, 20], 'ms'),
      },
    };
    // ours: a first invocation of 150 ms, 160 ms over bare Node (200 − 40)
    const line = photonLine(avatar, measure([40], 'ms')) ?? '';
    expect(line).toContain('1.8 MiB of WebAssembly takes 72 ± 1 ms');
    expect(line).toContain(
      'first resize of the stub’s 480 × 360 PNG (7,492 B) 48 ± 3 ms'.replace('’', "'"),
    );
    expect(line).toContain(
      'Photon is thus about 120 ms of ours’ 150 ms first invocation (80%)'.replace('’', "'"),
    );
    expect(line).toContain('75% of its 160 ms over bare Node');
    expect(line).toContain('ENOENT');
    expect(photonLine(handler('api', 100), measure([40], 'ms'))).toBeUndefined();
    const both = result([handler('api', 100), avatar]);
    expect(render(both)).toContain(line);
    expect(summaryRows(both).find((row) => row.metric.startsWith('Photon'))).toMatchObject({
      metric:
        'Photon in the avatar cold start (its load and first resize, inside the first invocation)',
      value: '120 of 160 ms over bare Node (75%)',
      met: null,
    });
  });

  test('summary rows: one per handler and one for zod', () => {
    const rows = summaryRows(result([handler('api', 100), handler('welcome', 190)]));
    expect(rows.map((row) => row.met)).toEqual([true, false, true]);
    expect(rows[0]).toMatchObject({ value: '60 vs 160 ms (0.38×)', goal: '≤ 0.5×' });
  });
});

describe('what Powertools Metrics adds to a cold start', () => {
  const withMetrics = (powertools: [number, number], byHand: [number, number]) => ({
    ...result([handler('api', 100)]),
    metrics: {
      byPowertools: variant(powertools[0], powertools[1], 150, 300 * 1024),
      byHand: variant(byHand[0], byHand[1], 145, 280 * 1024),
    },
  });

  test('is the difference of load plus first invocation, against the goal of 5 ms', () => {
    expect(metricsAddedMs(withMetrics([64, 33], [60, 31]))).toBe(6);
    const over = summaryRows(withMetrics([64, 33], [60, 31])).find((row) =>
      row.metric.startsWith('Powertools Metrics'),
    );
    expect(over).toMatchObject({ value: '+6.0 ms', goal: '≤ 5 ms', met: false });
    const under = summaryRows(withMetrics([62, 31], [60, 31])).find((row) =>
      row.metric.startsWith('Powertools Metrics'),
    );
    expect(under).toMatchObject({ value: '+2.0 ms', met: true });
    expect(render(withMetrics([62, 31], [60, 31]))).toContain(
      'Powertools Metrics adds 2.0 ms to load and first invocation',
    );
  });

  test('is not stated by results from before it was measured', () => {
    expect(metricsAddedMs(result([handler('api', 100)]))).toBeUndefined();
    expect(
      summaryRows(result([handler('api', 100)])).some((row) =>
        row.metric.startsWith('Powertools Metrics'),
      ),
    ).toBe(false);
  });

  test('compares like with like: both probes write the same EMF lines', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'metrics-probes-'));
    try {
      const emfOf = async (way: 'byPowertools' | 'byHand') => {
        const { entryPoints: _entry, ...options } = buildOptions(
          'ours',
          '',
          path.join(dir, way),
          [],
        );
        const { file } = await bundleProbe({
          ...options,
          stdin: { contents: metricsProbeModules()[way], resolveDir: REPO, loader: 'ts' },
        });
        const run = spawnSync(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `const m = await import(${JSON.stringify(`file://${file}`)}); await m.handler({}, {});`,
          ],
          {
            encoding: 'utf8',
            env: {
              PATH: process.env.PATH ?? '',
              POWERTOOLS_SERVICE_NAME: 'welcome',
              POWERTOOLS_METRICS_NAMESPACE: 'CustomerPipeline-bench',
              AWS_LAMBDA_FUNCTION_VERSION: '7',
            },
          },
        );
        expect(run.status).toBe(0);
        return run.stdout
          .split('\n')
          .filter((line) => line.includes('"_aws"'))
          .map((line) => {
            const { _aws, ...rest } = JSON.parse(line) as { _aws: Record<string, unknown> };
            const { Timestamp: _time, ...directives } = _aws;
            return { _aws: directives, ...rest };
          })
          .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
      };
      const byPowertools = await emfOf('byPowertools');
      expect(byPowertools).toHaveLength(3);
      expect(await emfOf('byHand')).toEqual(byPowertools);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
