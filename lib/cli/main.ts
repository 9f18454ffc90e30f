/**
 * returnpath CLI: the command registry, global help, `--version`, dispatch and exit codes.
 * Every command declares its usage (lib/cli/command.ts); the parser answers `-h`/`--help` and
 * rejects what a command does not take. The exit codes are the README's table (EXIT_CODES).
 */
import {
  CommandError,
  EnvironmentError,
  InterruptedError,
  NotFoundError,
  printable,
  ValidationError,
} from '../errors.js';
import { describeProvenance } from '../version.js';
import { certifyDecl, collectDecl } from './certify-commands.js';
import { cleanDecl } from './clean-command.js';
import { componentsGroup } from './components-command.js';
import {
  commandUsage,
  groupUsage,
  parseCommandLine,
  synopsis,
  UsageError,
  WIDTH,
  wrap,
  type CommandDecl,
  type CommandGroup,
} from './command.js';
import { demoDecl } from './demo-command.js';
import { kindGroup } from './kind-command.js';
import { labGroup } from './lab-commands.js';
import { runDecl } from './run-command.js';
import { validateDecl } from './validate-command.js';

/** The README's exit-code table, row by row. */
export const EXIT_CODES: readonly { code: number; meaning: string }[] = [
  {
    code: 0,
    meaning:
      'ok: every selected cell passed, or was skipped on a cluster (with --baseline: no regression); a certificate granted',
  },
  {
    code: 1,
    meaning:
      'a cell failed, was inconclusive or errored (with --baseline: a cell that passed in the baseline no longer does); certify: a path the profile requires is not supported',
  },
  {
    code: 2,
    meaning:
      "bad input: usage; a topology, results or snapshot file that is missing, unreadable, empty or malformed; a sysctl the kernel refuses; an output that cannot be written; a selection that matches no cell; a run id in use, or a lab whose owner still runs (lab down without --force); a kubeconfig whose server cannot be reached, whose credentials are refused or whose user lacks a permission, or a namespace that is not returnpath's",
  },
  { code: 3, meaning: 'the machine lacks something: root, a tool' },
  { code: 4, meaning: 'a lab run or host named on the command line does not exist' },
  { code: 130, meaning: 'interrupted (finished cells are kept in the results; certify writes no verdict)' },
];

export const COMMANDS: readonly (CommandDecl | CommandGroup)[] = [
  runDecl,
  collectDecl,
  certifyDecl,
  demoDecl,
  validateDecl,
  labGroup,
  cleanDecl,
  componentsGroup,
  kindGroup,
];

function isGroup(c: CommandDecl | CommandGroup): c is CommandGroup {
  return 'commands' in c;
}

export function globalHelp(): string {
  const out = [
    'returnpath: chaos and conformance for the return paths of load-balanced traffic',
    '',
    'usage:',
  ];
  for (const c of COMMANDS)
    for (const d of isGroup(c) ? c.commands : [c])
      out.push(
        `  ${synopsis(d, WIDTH - 2).replace(/\n/g, '\n  ')}`,
        `      ${wrap(d.summary, WIDTH - 6, 6)}`,
      );
  out.push(
    '  returnpath help [COMMAND]',
    "      a command's usage (also `returnpath COMMAND --help`)",
    '  returnpath --version',
    '      the version and the git commit it was built from',
    '',
    'exit codes:',
    ...EXIT_CODES.map((e) => `  ${String(e.code).padStart(3)}  ${wrap(e.meaning, WIDTH - 7, 7)}`),
  );
  return out.join('\n') + '\n';
}

/** The command (or group) `words` name, and the arguments after its name. */
function resolve(
  argv: readonly string[],
): { found: CommandDecl | CommandGroup; rest: readonly string[] } | undefined {
  const top = COMMANDS.find((c) => c.name === argv[0]);
  if (!top) return undefined;
  if (!isGroup(top)) return { found: top, rest: argv.slice(1) };
  const sub = top.commands.find((c) => c.name === `${top.name} ${argv[1]}`);
  return sub ? { found: sub, rest: argv.slice(2) } : { found: top, rest: argv.slice(1) };
}

function commandNames(): string {
  return COMMANDS.map((c) => c.name).join(', ');
}

export async function main(argv: readonly string[]): Promise<number> {
  const [first] = argv;
  if (first === undefined) {
    process.stderr.write(globalHelp());
    return 2;
  }
  if (first === '--help' || first === '-h') {
    process.stdout.write(globalHelp());
    return 0;
  }
  if (first === '--version') {
    if (argv.length > 1) throw new UsageError('', argv.slice(1).join(' '), '--version takes no arguments');
    process.stdout.write(`returnpath ${describeProvenance()}\n`);
    return 0;
  }
  if (first === 'help') {
    if (argv.length === 1) {
      process.stdout.write(globalHelp());
      return 0;
    }
    const r = resolve(argv.slice(1));
    if (!r || r.rest.length > 0)
      throw new UsageError('', argv.slice(1).join(' '), `is not a command; commands: ${commandNames()}`);
    process.stdout.write(isGroup(r.found) ? groupUsage(r.found) : commandUsage(r.found));
    return 0;
  }
  const r = resolve(argv);
  if (!r) throw new UsageError('', first, `is not a command; commands: ${commandNames()}, help`);
  if (isGroup(r.found)) {
    const group = r.found;
    const [sub] = r.rest;
    if (sub === '--help' || sub === '-h') {
      process.stdout.write(groupUsage(group));
      return 0;
    }
    throw new UsageError(
      group.name,
      sub ?? '(missing)',
      `expected a command: ${group.commands.map((c) => c.name.slice(group.name.length + 1)).join(', ')}`,
    );
  }
  const parsed = parseCommandLine(r.found, r.rest);
  if (parsed.help) {
    process.stdout.write(commandUsage(r.found));
    return 0;
  }
  return r.found.run(parsed.args);
}

export function exitCodeFor(e: unknown): number {
  if (e instanceof InterruptedError) return 130;
  if (e instanceof ValidationError) return 2;
  if (e instanceof EnvironmentError) return 3;
  if (e instanceof NotFoundError) return 4;
  if (e instanceof CommandError && /Operation not permitted|must be root|Permission denied/i.test(e.stderr))
    return 3;
  return 1;
}

/** Runs the CLI with `argv`, prints an error (never a stack trace for a known error) and exits. */
export async function cli(argv: readonly string[]): Promise<never> {
  // Output piped into a reader that stops early (`| head`): stop quietly, as other CLIs do.
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  let code: number;
  try {
    code = await main(argv);
  } catch (e) {
    code = exitCodeFor(e);
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`returnpath: ${printable(message, 4000)}\n`);
    if (e instanceof UsageError) {
      const known = e.command !== '' && resolve(e.command.split(' '))?.found.name === e.command;
      process.stderr.write(`usage: \`returnpath ${known ? `${e.command} ` : ''}--help\`\n`);
    }
  }
  process.exit(code);
}
