import { App } from 'aws-cdk-lib';
import * as cdkJson from '../../cdk.json';
import { loadStageConfig } from '../../lib/config';

const STAGE_SETTINGS = cdkJson.context.customerPipeline;

/** The configuration `bin/app.ts` would load with cdk.json's context plus `context`. */
const load = (context: Record<string, unknown> = {}) =>
  loadStageConfig(new App({ context: { ...cdkJson.context, ...context } }).node);

/** cdk.json's per-stage settings with `key` removed from the dev stage. */
const withoutDevSetting = (key: string) => {
  const { [key]: _removed, ...dev } = STAGE_SETTINGS.dev as Record<string, unknown>;
  return { customerPipeline: { ...STAGE_SETTINGS, dev } };
};

describe('loadStageConfig', () => {
  test('defaults to the dev stage', () => {
    const config = load();
    expect(config.stage).toBe('dev');
    expect(config.retainData).toBe(false);
    expect(config.logRetentionDays).toBe(STAGE_SETTINGS.dev.logRetentionDays);
  });

  test('reads the prod stage, which retains data', () => {
    const config = load({ stage: 'prod' });
    expect(config).toEqual(
      expect.objectContaining({
        stage: 'prod',
        retainData: true,
        corsAllowedOrigins: STAGE_SETTINGS.prod.corsAllowedOrigins,
        avatarNoncurrentVersionExpirationDays:
          STAGE_SETTINGS.prod.avatarNoncurrentVersionExpirationDays,
        apiThrottle: {
          rateLimit: STAGE_SETTINGS.prod.apiRateLimit,
          burstLimit: STAGE_SETTINGS.prod.apiBurstLimit,
        },
      }),
    );
  });

  test('orders events per customer only when asked: standard by default in every stage', () => {
    expect(load().ordering).toBe('standard');
    expect(load({ stage: 'prod' }).ordering).toBe('standard');
    expect(load({ ordering: 'perCustomer' }).ordering).toBe('perCustomer');
    expect(load({ stage: 'prod', ordering: 'perCustomer' }).ordering).toBe('perCustomer');
  });

  test('rejects an ordering it does not know, naming the two', () => {
    expect(() => load({ ordering: 'fifo' })).toThrow(
      /ordering must be one of standard, perCustomer, got "fifo"/,
    );
  });

  test('deploys canaries in prod and all at once in dev, unless told otherwise', () => {
    expect(load().deployment).toBe('allAtOnce');
    expect(load({ stage: 'prod' }).deployment).toBe('canary');
    expect(load({ stage: 'prod', deployment: 'allAtOnce' }).deployment).toBe('allAtOnce');
    expect(load({ deployment: 'canary' }).deployment).toBe('canary');
  });

  test('deploys all at once when a stage does not say', () => {
    expect(load(withoutDevSetting('deployment')).deployment).toBe('allAtOnce');
  });

  test('rejects a deployment it does not know, naming the two', () => {
    expect(() => load({ deployment: 'blueGreen' })).toThrow(
      /deployment must be one of allAtOnce, canary, got "blueGreen"/,
    );
  });

  test('rejects an unknown stage, naming the valid ones', () => {
    expect(() => load({ stage: 'staging' })).toThrow(/dev, prod/);
    expect(() => load({ stage: 'staging' })).toThrow(/staging/);
  });

  test('lets -c notificationEndpoint override the stage’s endpoint', () => {
    const endpoint = 'https://other.example.com/notify';
    expect(load({ notificationEndpoint: endpoint }).notificationEndpoint).toBe(endpoint);
    expect(load({ stage: 'prod', notificationEndpoint: endpoint }).notificationEndpoint).toBe(
      endpoint,
    );
  });

  test.each([
    'http://127.0.0.1:4010/v1/messages',
    'http://localhost:4010/v1/messages',
    'http://[::1]:4010/v1/messages',
  ])('lets dev send the bearer token over plain HTTP only to loopback (%s)', (endpoint) => {
    expect(load({ notificationEndpoint: endpoint }).notificationEndpoint).toBe(endpoint);
  });

  test.each(['http://notifications.example.com/v1', 'http://127.0.0.1.example.com/v1'])(
    'refuses plain HTTP to anything but loopback, in dev too (%s)',
    (endpoint) => {
      expect(() => load({ notificationEndpoint: endpoint })).toThrow(
        /notificationEndpoint must be an https:\/\/ URL/,
      );
    },
  );

  test('lets prod send to a loopback sink over plain HTTP only on the local cloud (-c localCloud=true)', () => {
    const endpoint = 'http://127.0.0.1:4010/v1/messages';
    expect(
      load({ stage: 'prod', localCloud: 'true', notificationEndpoint: endpoint })
        .notificationEndpoint,
    ).toBe(endpoint);
    expect(() =>
      load({
        stage: 'prod',
        localCloud: 'true',
        notificationEndpoint: 'http://notifications.example.com/v1',
      }),
    ).toThrow(/notificationEndpoint must be an https:\/\/ URL/);
    expect(() =>
      load({ stage: 'prod', localCloud: 'false', notificationEndpoint: endpoint }),
    ).toThrow(/notificationEndpoint must be an https:\/\/ URL/);
  });

  test('refuses plain HTTP in prod, even to loopback: the bearer token travels in it', () => {
    expect(() =>
      load({ stage: 'prod', notificationEndpoint: 'http://127.0.0.1:4010/v1/messages' }),
    ).toThrow(/customerPipeline\.prod\.notificationEndpoint must be an https:\/\/ URL/);
  });

  test('refuses an endpoint that is not a URL', () => {
    expect(() => load({ notificationEndpoint: 'notifications.example.com' })).toThrow(
      /notificationEndpoint/,
    );
  });

  test('takes an alarm email from -c alarmEmail, and none by default', () => {
    expect(load().alarmEmail).toBeUndefined();
    expect(load({ alarmEmail: 'ops@example.com' }).alarmEmail).toBe('ops@example.com');
  });

  test('rejects an alarm email that is not an address', () => {
    expect(() => load({ alarmEmail: 'not-an-address' })).toThrow(/alarmEmail/);
  });

  test('gives each stage a stream record age well inside the stream’s 24 hours', () => {
    expect(load().streamMaxRecordAgeSeconds).toBe(STAGE_SETTINGS.dev.streamMaxRecordAgeSeconds);
    expect(load({ stage: 'prod' }).streamMaxRecordAgeSeconds).toBe(12 * 60 * 60);
  });

  test('lets -c streamMaxRecordAgeSeconds override it, as the CLI gives it: a string', () => {
    expect(load({ streamMaxRecordAgeSeconds: '60' }).streamMaxRecordAgeSeconds).toBe(60);
    expect(load({ stage: 'prod', streamMaxRecordAgeSeconds: 3600 }).streamMaxRecordAgeSeconds).toBe(
      3600,
    );
  });

  test.each([
    ['below Lambda’s minimum of 60 s', '59'],
    ['so close to the stream’s 24 h that a record could be trimmed first', String(20 * 3600 + 1)],
    ['not a whole number', '90.5'],
    ['not a number', 'an hour'],
  ])('rejects a stream record age %s', (_, value) => {
    expect(() => load({ streamMaxRecordAgeSeconds: value })).toThrow(/streamMaxRecordAgeSeconds/);
  });

  test('gives each stage an avatar upload limit of 5 MiB, and refuses one over 20 MiB', () => {
    expect(load().avatarMaxBytes).toBe(5 * 1024 * 1024);
    expect(load({ stage: 'prod' }).avatarMaxBytes).toBe(5 * 1024 * 1024);
    const over = {
      customerPipeline: {
        ...STAGE_SETTINGS,
        dev: { ...STAGE_SETTINGS.dev, avatarMaxBytes: 20 * 1024 * 1024 + 1 },
      },
    };
    expect(() => load(over)).toThrow(
      /customerPipeline\.dev\.avatarMaxBytes must be at most 20971520/,
    );
  });

  test.each([
    'notificationEndpoint',
    'corsAllowedOrigins',
    'avatarNoncurrentVersionExpirationDays',
    'avatarMaxBytes',
    'logRetentionDays',
    'apiRateLimit',
    'apiBurstLimit',
    'streamMaxRecordAgeSeconds',
  ])('rejects a stage without %s, naming it', (key) => {
    expect(() => load(withoutDevSetting(key))).toThrow(
      new RegExp(`customerPipeline\\.dev\\.${key}`),
    );
  });
});
