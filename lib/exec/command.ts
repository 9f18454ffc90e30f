import { spawnOwnGroup } from './children.js';
import { CommandError } from '../errors.js';

export interface RunOptions {
  /** Written to the child's stdin, then closed. */
  input?: string;
  /** Return the result instead of throwing when the exit code is non-zero. */
  allowFailure?: boolean;
  /** Kill the child after this long. */
  timeoutMs?: number;
}

export interface CommandResult {
  argv: readonly string[];
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Quote argv for a human to paste into a shell. Never executed by us. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * Runs argv arrays (never a shell string) and counts them, so benchmarks can report
 * how many kernel-touching processes a lab operation took.
 */
export class CommandRunner {
  private count = 0;

  get commandsRun(): number {
    return this.count;
  }

  run(argv: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    this.count++;
    const [file, ...args] = argv;
    if (!file) throw new Error('empty argv');
    return new Promise((resolve, reject) => {
      // Its own process group: a Ctrl-C to the terminal's group does not kill a command a cell relies on.
      const child = spawnOwnGroup(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timer: NodeJS.Timeout | undefined;
      if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
      child.stdout!.on('data', (d: Buffer) => out.push(d));
      child.stderr!.on('data', (d: Buffer) => err.push(d));
      child.on('error', (e) => {
        if (timer) clearTimeout(timer);
        reject(new CommandError(argv, null, e.message));
      });
      child.on('close', (code) => {
        if (timer) clearTimeout(timer);
        const result = {
          argv,
          code,
          stdout: Buffer.concat(out).toString(),
          stderr: Buffer.concat(err).toString(),
        };
        if (code !== 0 && !opts.allowFailure)
          reject(new CommandError(argv, code, result.stderr, result.stdout));
        else resolve(result);
      });
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(opts.input ?? '');
    });
  }
}

/** Run `fn` over items with at most `limit` in flight; results keep input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const errors: unknown[] = [];
  async function worker(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T);
      } catch (e) {
        errors.push(e);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1)
    throw new AggregateError(errors, `${errors.length} of ${items.length} operations failed`);
  return results;
}
