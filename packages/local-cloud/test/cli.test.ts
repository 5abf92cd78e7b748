import { type CliIo, runLocalCloudCli } from '../src/cli';

const run = async (argv: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    env: {},
    stopRequested: Promise.resolve(),
  };
  const code = await runLocalCloudCli(argv, io, {
    command: 'npm start --',
    description: 'Runs the example app.',
    stackName: 'Example-dev',
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

describe('the local cloud command', () => {
  test('answers an unknown option with the usage and exit code 2, not a stack trace', async () => {
    const { code, err } = await run(['--bogus']);
    expect(code).toBe(2);
    expect(err).toContain("Unknown option '--bogus'");
    expect(err).toContain('usage: npm start -- [options]');
    expect(err).not.toMatch(/\n\s+at /);
  });

  test.each([
    [['--time-scale', '0'], '--time-scale must be a positive number'],
    [['--context', 'novalue'], '--context must be key=value'],
    [['--assembly', 'cdk.out', '--context', 'a=b'], 'cannot change an --assembly'],
  ])('refuses %j with the usage', async (argv, message) => {
    const { code, err } = await run(argv);
    expect(code).toBe(2);
    expect(err).toContain(message);
    expect(err).toContain('usage:');
  });

  test('prints the usage with the app’s command and default stack for --help', async () => {
    const { code, out } = await run(['--help']);
    expect(code).toBe(0);
    expect(out).toContain('Runs the example app.');
    expect(out).toContain('(default: Example-dev)');
  });

  test('says why it could not start, without a stack trace', async () => {
    const { code, err } = await run(['--assembly', '/nonexistent/cdk.out']);
    expect(code).toBe(1);
    expect(err).toMatch(/^the local cloud could not start: /);
    expect(err).not.toMatch(/\n\s+at /);
  });
});
