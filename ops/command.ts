import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { hideSdkNodeVersionWarning } from 'cdk-local-cloud';

/** What a command writes, and what it reads of its environment; tests pass their own. */
export interface CommandIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

/** Runs `command` with this process's arguments and streams; its result is the exit code. */
export const runAsCommand = (
  command: (argv: readonly string[], io: CommandIo) => Promise<number>,
): void => {
  hideSdkNodeVersionWarning();
  void command(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
    cwd: process.cwd(),
  }).then((code) => {
    process.exitCode = code;
  });
};

/** A command line the command cannot take: it prints its usage and exits 2. */
export class UsageError extends Error {}

/** `parseArgs` with positionals, strict, its complaints turned into `UsageError`s. */
export const parseCommandArgs = <const Options extends ParseArgsOptionsConfig>(
  argv: readonly string[],
  options: Options,
) => {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
};
