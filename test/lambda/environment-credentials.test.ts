import { defaultProvider } from '../../lambda/shared/adapters/environment-credentials';

/** The bundles' stand-in for the SDK's default credential chain: the environment only. */
describe('environment credentials', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  test("returns the role's credentials from the variables Lambda sets", async () => {
    process.env.AWS_ACCESS_KEY_ID = 'ASIAEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'secret';
    process.env.AWS_SESSION_TOKEN = 'token';
    await expect(defaultProvider()()).resolves.toMatchObject({
      accessKeyId: 'ASIAEXAMPLE',
      secretAccessKey: 'secret',
      sessionToken: 'token',
    });
  });

  test('without them it fails with a clear error instead of trying other sources', async () => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    // A profile would send the SDK's full chain to the shared config files; not this one.
    process.env.AWS_PROFILE = 'someone';
    await expect(defaultProvider()()).rejects.toThrow(
      /Unable to find environment variable credentials/,
    );
  });
});
