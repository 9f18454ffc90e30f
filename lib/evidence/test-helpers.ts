/** Helpers for the evidence tests: testdata from the source tree, and a scripted HostExec. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { HostExec } from '../exec/netns.js';
import type { CommandResult, RunOptions } from '../exec/command.js';
import { CommandError } from '../errors.js';

/** Absolute path of a file in lib/evidence/testdata (the source tree, also when running from dist/). */
export function testdataPath(name: string): string {
  return fileURLToPath(new URL(`../../../lib/evidence/testdata/${name}`, import.meta.url));
}

export function readTestdata(name: string): string {
  return readFileSync(testdataPath(name), 'utf8');
}

type Reply =
  Partial<Omit<CommandResult, 'argv'>> | ((argv: readonly string[]) => Partial<Omit<CommandResult, 'argv'>>);

/** A HostExec whose commands return canned output, chosen by the first argv element. */
export class ScriptedExec implements HostExec {
  readonly calls: (readonly string[])[] = [];
  constructor(
    readonly host: string,
    private readonly replies: Record<string, Reply | Reply[]>,
  ) {}

  wrap(argv: readonly string[]): string[] {
    return ['scripted', this.host, ...argv];
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    this.calls.push(argv);
    let reply = this.replies[argv[0] ?? ''];
    if (Array.isArray(reply)) reply = reply.length > 1 ? reply.shift() : reply[0];
    const r =
      typeof reply === 'function' ? reply(argv) : (reply ?? { code: 127, stderr: `${argv[0]}: not found` });
    const result = {
      argv: this.wrap(argv),
      code: r.code ?? 0,
      stdout: r.stdout ?? '',
      stderr: r.stderr ?? '',
    };
    if (result.code !== 0 && !opts.allowFailure) {
      throw new CommandError(result.argv, result.code, result.stderr, result.stdout);
    }
    return result;
  }

  spawn(_argv: readonly string[], _opts?: SpawnOptions): ChildProcess {
    throw new Error('ScriptedExec cannot spawn');
  }
}
