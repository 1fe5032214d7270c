import { CommanderError, type Command } from 'commander';
import { reportError } from './exit-codes.js';

const everyCommand = (c: Command): Command[] => [c, ...c.commands.flatMap(everyCommand)];
const fullName = (c: Command): string => (c.parent ? `${fullName(c.parent)} ${c.name()}` : c.name());

/**
 * `keyhold help keystore aws-config`: help for the named command at any depth (commander's
 * own help command looks one level down only).
 */
function addNestedHelp(program: Command): void {
  program.helpCommand(false);
  program
    .command('help [command...]')
    .description('display help for a command, e.g. keyhold help keystore aws-config')
    .action((words: string[]) => {
      let c = program;
      for (const w of words) {
        const next = c.commands.find((x) => x.name() === w || x.aliases().includes(w));
        if (!next) throw new CommanderError(2, 'keyhold.unknownCommand', `error: unknown command '${words.join(' ')}' (see: ${fullName(c)} --help)`);
        c = next;
      }
      c.outputHelp();
    });
}

/** Parses argv, runs the command and returns the process exit code (errors printed once, here). */
export async function runCli(program: Command, argv: readonly string[]): Promise<number | undefined> {
  addNestedHelp(program);
  for (const c of everyCommand(program)) {
    // Commander copies exitOverride only into subcommands created after it is set, so set it on
    // every command: otherwise a usage error in a subcommand exits with 1 instead of 2.
    c.exitOverride();
    // A usage error prints its one line, the usage line and where to read more: not the whole help.
    c.showHelpAfterError(`Usage: ${fullName(c)} ${c.usage()}\nMore: ${fullName(c)} --help`);
  }
  try {
    await program.parseAsync(argv as string[]);
    return undefined;
  } catch (e) {
    if (e instanceof CommanderError && e.code === 'keyhold.unknownCommand') process.stderr.write(e.message + '\n');
    return reportError(e, { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s), json: argv.includes('--json') });
  }
}
