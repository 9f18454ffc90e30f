/** A small argv parser: positionals, `--flag`, `--key value`, `--key=value`, and `--` for the rest. */
import { ValidationError } from '../errors.js';

export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string | true>;
  /** Everything after `--`. */
  rest: string[];
}

export interface ArgSpec {
  /** Options that take a value. */
  values?: readonly string[];
  /** Options that are booleans. */
  booleans?: readonly string[];
}

export function parseArgs(argv: readonly string[], spec: ArgSpec, command: string): ParsedArgs {
  const out: ParsedArgs = { positionals: [], flags: new Map(), rest: [] };
  const values = new Set(spec.values ?? []);
  const booleans = new Set(spec.booleans ?? []);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.rest = argv.slice(i + 1);
      break;
    }
    if (!a.startsWith('--')) {
      out.positionals.push(a);
      continue;
    }
    const [key, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (values.has(key)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw usage(command, `--${key}`, 'needs a value');
      out.flags.set(key, v);
    } else if (booleans.has(key) && inline === undefined) {
      out.flags.set(key, true);
    } else {
      const allowed = [...values].map((v) => `--${v} VALUE`).concat([...booleans].map((b) => `--${b}`));
      throw usage(command, a, `unknown option; allowed: ${allowed.join(', ') || 'none'}`);
    }
  }
  return out;
}

export function usage(command: string, value: string, message: string): ValidationError {
  return new ValidationError(`returnpath ${command}`, [{ path: 'argv', value, message }]);
}

export function stringFlag(a: ParsedArgs, key: string): string | undefined {
  const v = a.flags.get(key);
  return typeof v === 'string' ? v : undefined;
}

export function intFlag(
  a: ParsedArgs,
  key: string,
  command: string,
  min: number,
  max: number,
): number | undefined {
  const v = stringFlag(a, key);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw usage(command, `--${key} ${v}`, `must be an integer from ${min} to ${max}`);
  return n;
}
