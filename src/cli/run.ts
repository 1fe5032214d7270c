import type { Command } from 'commander';
import { reportError } from './exit-codes.js';

const everyCommand = (c: Command): Command[] => [c, ...c.commands.flatMap(everyCommand)];

/** Parses argv, runs the command and returns the process exit code (errors printed once, here). */
export async function runCli(program: Command, argv: readonly string[]): Promise<number | undefined> {
  // Commander copies exitOverride only into subcommands created after it is set, so set it on
  // every command: otherwise a usage error in a subcommand exits with 1 instead of 2.
  for (const c of everyCommand(program)) c.exitOverride();
  try {
    await program.parseAsync(argv as string[]);
    return undefined;
  } catch (e) {
    return reportError(e, { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s), json: argv.includes('--json') });
  }
}
