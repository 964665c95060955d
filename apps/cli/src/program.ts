import { Command, CommanderError, Help, Option } from 'commander';
import { backendChoices } from './backend.js';
import { registerCombine } from './commands/combine.js';
import { registerConvert } from './commands/convert.js';
import { registerDemo } from './commands/demo.js';
import { registerGenerate } from './commands/generate.js';
import { registerInit } from './commands/init.js';
import { registerInspect } from './commands/inspect.js';
import { registerMerge } from './commands/merge.js';
import { registerTrain } from './commands/train.js';
import { describeError, EXIT } from './errors.js';
import { wrapDescription } from './help-format.js';
import { requireOutputDirectory } from './paths.js';
import { registerInitPlugins } from './plugins.js';
import { VERSION } from './version.js';

/**
 * The `lorakit` program with every command; global options apply to all of them. The installed plugin
 * packages are imported first: `init` offers the init methods they register.
 */
export async function createProgram(): Promise<Command> {
  await registerInitPlugins();
  const program = new Command('lorakit')
    .description('LoRA fine-tuning for Node.js with PEFT-compatible adapters.')
    .version(VERSION, '-V, --version')
    .option('--json', 'print one JSON object with the result instead of human-readable text', false)
    .option('-v, --verbose', 'print details (backend, timings, library warnings) to stderr', false)
    .option('--no-progress', 'no progress bars (they are off anyway when stderr is not a terminal)')
    .addOption(
      new Option(
        '--backend <name>',
        'compute backend: auto takes the highest-priority installed one (a GPU, then cpu, then js)',
      )
        .choices(backendChoices())
        .default(process.env.LORAKIT_BACKEND ?? 'auto'),
    )
    .configureOutput({ outputError: (text, write) => write(`lorakit: ${text}`) })
    .configureHelp({
      sortSubcommands: false,
      showGlobalOptions: true,
      // Wrapped once, to the terminal's width, whatever line breaks the source has (help-format.ts).
      commandDescription(command) {
        return wrapDescription(command.description(), (this as Help).helpWidth ?? 80);
      },
      optionDescription(option) {
        const text = Help.prototype.optionDescription.call(this, option);
        return option.mandatory ? `(required) ${text}` : text;
      },
    })
    .exitOverride();
  for (const register of [
    registerDemo,
    registerInspect,
    registerTrain,
    registerMerge,
    registerGenerate,
    registerInit,
    registerConvert,
    registerCombine,
  ]) {
    register(program);
  }
  for (const command of program.commands) command.exitOverride();
  // Every command's --out is a folder: an existing file there is bad input, named before any work starts.
  program.hook('preAction', (_program, command) => {
    const out: unknown = command.opts().out;
    if (typeof out === 'string') requireOutputDirectory(out);
  });
  return program;
}

/**
 * Runs the program on `argv` and returns the exit code: 0 success, 2 bad input (with one line on
 * stderr naming the problem), 1 other failures, 130 interrupted.
 */
export async function run(argv: readonly string[]): Promise<number> {
  const json = argv.includes('--json');
  try {
    const program = await createProgram();
    await program.parseAsync(argv as string[]);
    // A command may end with a code of its own (inspect --strict: 3, an interrupted train: 130).
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.exitCode === 0
      ) {
        return EXIT.ok;
      }
      if (json)
        process.stdout.write(
          `${JSON.stringify({ error: error.message.replace(/^error: /, ''), exitCode: EXIT.badInput })}\n`,
        );
      return EXIT.badInput;
    }
    const { message, exitCode } = describeError(error);
    process.stderr.write(`lorakit: error: ${message}\n`);
    if (argv.includes('--verbose') || argv.includes('-v')) {
      if (error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    } else if (exitCode === EXIT.failure) {
      process.stderr.write('(run with --verbose for the stack trace)\n');
    }
    if (json) process.stdout.write(`${JSON.stringify({ error: message, exitCode })}\n`);
    return exitCode;
  }
}
