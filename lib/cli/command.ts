/**
 * The command layer: every command declares its usage in one place (positionals, options with
 * their value placeholder and allowed values, the text after `--`), and one parser gives every
 * command the same behaviour:
 *
 * - `-h`/`--help` anywhere before `--` prints the command's own usage and exits 0;
 * - an unknown option, a repeated option, a missing or unexpected positional, an option value
 *   outside its allowed values: a UsageError (exit 2) naming the argument and what is allowed;
 * - `--key value` and `--key=value` for options with a value, `--flag` for booleans.
 *
 * Adding a flag to a command is one line in its `options`: `{ name: 'kind', value: 'MODE',
 * choices: ['a', 'b'], help: 'what it does' }`; the command reads it with `args.string('kind')`.
 */
import { ValidationError } from '../errors.js';

export interface OptionDecl {
  /** Long name without the dashes: `suite` for `--suite`. */
  readonly name: string;
  /** The option takes a value, shown as this placeholder (`ID[,ID]`); absent: a boolean flag. */
  readonly value?: string;
  /** The values allowed, when they are fixed. */
  readonly choices?: readonly string[];
  /** One line for the usage text. */
  readonly help: string;
}

export interface PositionalDecl {
  /** Shown in the usage: `FILE`, `RUN`, `HOST`. */
  readonly name: string;
  readonly help: string;
  readonly optional?: boolean;
  /** The last positional may take any number of words (`NAME...`); with optional, zero. */
  readonly variadic?: boolean;
}

export interface CommandDecl {
  /** The words after `returnpath`: `run`, `lab up`. */
  readonly name: string;
  /** One line: what it does (in the global help and under the usage line). */
  readonly summary: string;
  readonly positionals?: readonly PositionalDecl[];
  readonly options?: readonly OptionDecl[];
  /** The command takes `-- ARGV...` (lab exec): its placeholder and whether it is required. */
  readonly rest?: { readonly name: string; readonly help: string };
  /** Further paragraphs for the command's usage (examples, exit codes). */
  readonly details?: string;
  run(args: Args): Promise<number>;
}

/** A group of commands sharing a first word (`lab up`, `lab down`, ...). */
export interface CommandGroup {
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly CommandDecl[];
}

/** Bad command-line usage (exit 2). The CLI adds a pointer to the command's `--help`. */
export class UsageError extends ValidationError {
  constructor(
    readonly command: string,
    argument: string,
    message: string,
  ) {
    super(command ? `returnpath ${command}` : 'returnpath', [{ path: 'argv', value: argument, message }]);
    this.message = `${command ? `${command}: ` : ''}${argument}: ${message}`;
  }
}

/** The parsed command line of one command; accessors refuse names the command did not declare. */
export class Args {
  constructor(
    readonly decl: CommandDecl,
    private readonly values: ReadonlyMap<string, string | true>,
    readonly positionals: readonly string[],
    /** Everything after `--` (commands that declare `rest`). */
    readonly rest: readonly string[],
  ) {}

  private option(name: string): OptionDecl {
    const o = this.decl.options?.find((x) => x.name === name);
    if (!o) throw new Error(`returnpath ${this.decl.name} reads --${name}, which it does not declare`);
    return o;
  }

  /** The value of a declared option that takes one. */
  string(name: string): string | undefined {
    const o = this.option(name);
    if (o.value === undefined) throw new Error(`--${name} of ${this.decl.name} is a boolean flag`);
    const v = this.values.get(name);
    return typeof v === 'string' ? v : undefined;
  }

  /** Whether a declared boolean flag was given. */
  flag(name: string): boolean {
    const o = this.option(name);
    if (o.value !== undefined) throw new Error(`--${name} of ${this.decl.name} takes a value`);
    return this.values.has(name);
  }

  /** An integer option within [min, max]. */
  int(name: string, min: number, max: number): number | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new UsageError(this.decl.name, `--${name} ${v}`, `must be an integer from ${min} to ${max}`);
    return n;
  }

  /** A comma-separated list option (`--suite a,b`), empty items dropped. */
  list(name: string): string[] | undefined {
    return this.string(name)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }

  /** A declared positional by its name (`FILE`); undefined when an optional one is absent. */
  positional(name: string): string | undefined {
    return this.positionals[this.positionalIndex(name)];
  }

  /** Every word of a variadic positional (the last one declared). */
  variadic(name: string): string[] {
    const i = this.positionalIndex(name);
    if (!this.decl.positionals![i]!.variadic)
      throw new Error(`positional ${name} of ${this.decl.name} is not variadic`);
    return this.positionals.slice(i);
  }

  private positionalIndex(name: string): number {
    const i = (this.decl.positionals ?? []).findIndex((p) => p.name === name);
    if (i < 0)
      throw new Error(`returnpath ${this.decl.name} reads positional ${name}, which it does not declare`);
    return i;
  }
}

/** What a command line asks for: the command's usage, or a run with parsed arguments. */
export type Parsed = { help: true } | { help: false; args: Args };

export function parseCommandLine(decl: CommandDecl, argv: readonly string[]): Parsed {
  const options = new Map((decl.options ?? []).map((o) => [o.name, o]));
  const values = new Map<string, string | true>();
  const positionals: string[] = [];
  let rest: string[] | undefined;
  const fail = (argument: string, message: string): never => {
    throw new UsageError(decl.name, argument, message);
  };
  const allowedOptions = (): string =>
    [...options.values()].map((o) => (o.value ? `--${o.name} ${o.value}` : `--${o.name}`)).join(', ') ||
    'none';

  const dashdash = argv.indexOf('--');
  const own = dashdash < 0 ? argv : argv.slice(0, dashdash);
  if (own.includes('-h') || own.includes('--help')) return { help: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest = argv.slice(i + 1);
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positionals.push(a);
      continue;
    }
    if (!a.startsWith('--'))
      fail(a, `unknown option; allowed: ${allowedOptions()}, -h/--help (options are spelled --name)`);
    const eq = a.indexOf('=');
    const key = eq < 0 ? a.slice(2) : a.slice(2, eq);
    const inline = eq < 0 ? undefined : a.slice(eq + 1);
    const o = options.get(key);
    if (!o) fail(a, `unknown option; allowed: ${allowedOptions()}, -h/--help`);
    const opt = o!;
    if (values.has(key)) fail(a, `--${key} is given more than once`);
    if (opt.value === undefined) {
      if (inline !== undefined) fail(a, `--${key} is a flag and takes no value`);
      values.set(key, true);
      continue;
    }
    let v = inline;
    if (v === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2))
        fail(
          a,
          `needs a value: --${key} ${opt.value}` +
            (next === undefined
              ? ''
              : ` (got the option ${next}; write --${key}=${next} if that is the value)`),
        );
      v = next;
      i++;
    }
    if (opt.choices && !opt.choices.includes(v!))
      fail(`--${key} ${v}`, `is not allowed; allowed: ${opt.choices.join(', ')}`);
    values.set(key, v!);
  }

  const declared = decl.positionals ?? [];
  const variadic = declared.at(-1)?.variadic === true;
  if (positionals.length > declared.length && !variadic) {
    const extra = positionals.slice(declared.length);
    fail(
      extra.join(' '),
      declared.length === 0
        ? `unexpected argument: ${decl.name} takes no positional arguments` +
            (decl.rest ? ` (the command goes after --)` : '')
        : `unexpected argument: ${decl.name} takes ${declared.map(positionalText).join(' ')}` +
            (decl.rest ? ` -- ${decl.rest.name}` : ''),
    );
  }
  const missing = declared.slice(positionals.length).filter((p) => !p.optional);
  if (missing.length > 0)
    fail('(missing)', `needs ${missing.map((p) => `${p.name} (${p.help})`).join(' and ')}`);
  if (rest !== undefined && !decl.rest)
    fail(`-- ${rest.join(' ')}`.trim(), `${decl.name} takes nothing after --`);
  if (decl.rest && (rest === undefined || rest.length === 0))
    fail('(missing)', `needs -- ${decl.rest.name} (${decl.rest.help})`);
  return { help: false, args: new Args(decl, values, positionals, rest ?? []) };
}

function positionalText(p: PositionalDecl): string {
  const name = p.variadic ? `${p.name}...` : p.name;
  return p.optional ? `[${name}]` : name;
}

/** `returnpath lab down RUN [--force]`, wrapped at `width` columns. */
export function synopsis(decl: CommandDecl, width = WIDTH): string {
  const words = [
    ...(decl.positionals ?? []).map(positionalText),
    ...(decl.options ?? []).map((o) => (o.value ? `[--${o.name} ${o.value}]` : `[--${o.name}]`)),
    ...(decl.rest ? [`-- ${decl.rest.name}`] : []),
  ];
  const head = `returnpath ${decl.name}`;
  const lines: string[] = [];
  let line = head;
  for (const w of words) {
    if (line.length + 1 + w.length > width && line.trim() !== head) {
      lines.push(line);
      line = ' '.repeat(head.length);
    }
    line += ` ${w}`;
  }
  lines.push(line);
  return lines.join('\n');
}

/** Words of `text` in lines of at most `width` columns, every line after the first indented. */
export function wrap(text: string, width: number, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width - (lines.length ? indent : 0)) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

export const WIDTH = 100;

function table(rows: readonly [string, string][]): string[] {
  const width = Math.min(28, Math.max(...rows.map(([a]) => a.length)));
  const text = (b: string): string => wrap(b, WIDTH - width - 4, width + 4);
  return rows.map(([a, b]) =>
    a.length > width ? `  ${a}\n  ${' '.repeat(width)}  ${text(b)}` : `  ${a.padEnd(width)}  ${text(b)}`,
  );
}

/** The usage text `returnpath CMD --help` prints. */
export function commandUsage(decl: CommandDecl): string {
  const out = [
    `usage: ${synopsis(decl, WIDTH - 7).replace(/\n/g, '\n       ')}`,
    '',
    wrap(decl.summary, WIDTH, 0),
  ];
  const args: [string, string][] = (decl.positionals ?? []).map((p) => [positionalText(p), p.help]);
  if (decl.rest) args.push([`-- ${decl.rest.name}`, decl.rest.help]);
  if (args.length) out.push('', 'arguments:', ...table(args));
  const opts: [string, string][] = (decl.options ?? []).map((o) => [
    o.value ? `--${o.name} ${o.value}` : `--${o.name}`,
    o.help + (o.choices ? ` (one of: ${o.choices.join(', ')})` : ''),
  ]);
  opts.push(['-h, --help', 'print this usage and exit']);
  out.push('', 'options:', ...table(opts));
  if (decl.details) out.push('', decl.details.trimEnd());
  return out.join('\n') + '\n';
}

/** The usage of a group: its commands, one line each. */
export function groupUsage(group: CommandGroup): string {
  const out = [`usage: returnpath ${group.name} COMMAND ...`, '', group.summary, '', 'commands:'];
  for (const c of group.commands) out.push(`  ${synopsis(c)}`, `      ${wrap(c.summary, WIDTH - 6, 6)}`);
  out.push('', `\`returnpath ${group.name} COMMAND --help\` prints a command's usage.`);
  return out.join('\n') + '\n';
}
