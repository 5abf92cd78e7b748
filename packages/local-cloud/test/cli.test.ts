import { type CliIo, runLocalCloudCli } from '../src/cli';

const run = async (argv: string[], env: Record<string, string> = {}) => {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    env,
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
    [['--record-age-scale', '0'], '--record-age-scale must be a positive number'],
    [['--iam', 'strict'], '--iam must be one of enforce, report, off, got "strict"'],
    [['--context', 'novalue'], '--context must be key=value'],
    [['--assembly', 'cdk.out', '--context', 'a=b'], 'cannot change an --assembly'],
    [['--faults', '1.5'], '--faults must be a rate from 0 to 1, got "1.5"'],
    [['--faults', 'often'], '--faults must be a rate from 0 to 1'],
    [['--faults', '0.05', '--seed=-3'], '--seed must be a whole number'],
    [['--faults', '0.05', '--seed', '1.5'], '--seed must be a whole number'],
    [['--seed', '4294967296'], '--seed must be a whole number from 0 to 4294967295'],
    // An app whose profile says nothing of its sources (another app's assembly): no watch.
    [['--watch'], '--watch is not available for this app'],
    [['--watch', '--assembly', 'cdk.out'], '--watch is not available for this app'],
    // With --watch, the context is for the re-syntheses: the only refusal left is the watch's.
    [
      ['--watch', '--assembly', 'cdk.out', '--context', 'a=b'],
      '--watch is not available for this app',
    ],
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

  test('lists --faults and --seed in the usage', async () => {
    const { out } = await run(['--help']);
    expect(out).toMatch(/--faults <rate> +fail this share/);
    expect(out).toMatch(/--seed <n> +seed the random faults/);
    expect(out).toMatch(/--record-age-scale <f>\s+shrink streams' maximum record age/);
  });

  /** An emulator that is never reached: the start fails at the missing assembly. */
  const failingStart = ['--assembly', '/nonexistent/cdk.out'];
  const env = { AWS_ENDPOINT_URL: 'http://127.0.0.1:9' };

  test('prints the fault rate and the given seed first, so a run that fails can be replayed', async () => {
    const { code, out } = await run(['--faults', '0.05', '--seed', '7', ...failingStart], env);
    expect(code).toBe(1);
    expect(out.split('\n')[0]).toBe("faults: 5 % of every function's AWS calls (seed 7)");
  });

  test('prints the random seed it chose when none is given', async () => {
    const { out } = await run(['--faults', '0.2', ...failingStart], env);
    expect(out.split('\n')[0]).toMatch(/^faults: 20 % of every function's AWS calls \(seed \d+\)$/);
  });

  test('prints no fault line without --faults', async () => {
    const { out } = await run(failingStart, env);
    expect(out).not.toContain('faults:');
  });

  test('says why it could not start, without a stack trace', async () => {
    const { code, err } = await run(['--assembly', '/nonexistent/cdk.out']);
    expect(code).toBe(1);
    expect(err).toMatch(/^the local cloud could not start: /);
    expect(err).not.toMatch(/\n\s+at /);
  });
});
