import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { spawnOwnGroup } from './children.js';
import type { CommandResult, CommandRunner, RunOptions } from './command.js';
import { shellQuote } from './command.js';

/**
 * A process a HostExec started: a local child process (a namespace), or a command running in a
 * pod through the Kubernetes API (lib/cluster/pod-exec.ts). It emits `exit` (code, signal),
 * `close` (code, signal) once its output has ended, and `error` when it could not start.
 */
export interface HostProcess extends EventEmitter {
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** A local process id; undefined for a remote command. */
  readonly pid?: number | undefined;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  /** Stops it (a remote command: its connection closes, which ends it). */
  kill(signal?: NodeJS.Signals | number): boolean;
}

/**
 * Where a command runs. The lab implements it with network namespaces; the cluster layer
 * (lib/cluster) implements it with pod exec through the Kubernetes API (`kubectl exec`). Everything above the
 * lab (traffic, evidence, nlb control, chaos) only talks to hosts through this interface.
 */
export interface HostExec {
  /** Logical host id, e.g. `node/node-a`, `pod/web-1`, `fabric`. */
  readonly host: string;
  run(argv: readonly string[], opts?: RunOptions): Promise<CommandResult>;
  /** Start a long-lived process inside the host. */
  spawn(argv: readonly string[], opts?: SpawnOptions): HostProcess;
  /** The argv that runs `argv` on this host from the machine's root namespace, for reproduce lines. */
  wrap(argv: readonly string[]): string[];
}

/** Argv prefix entering a named network namespace without remounting /sys (faster than `ip netns exec`). */
export function netnsPrefix(netns: string): string[] {
  return ['nsenter', `--net=/run/netns/${netns}`, '--'];
}

export class NetnsExec implements HostExec {
  constructor(
    readonly host: string,
    readonly netns: string,
    private readonly runner: CommandRunner,
  ) {}

  wrap(argv: readonly string[]): string[] {
    return [...netnsPrefix(this.netns), ...argv];
  }

  run(argv: readonly string[], opts?: RunOptions): Promise<CommandResult> {
    return this.runner.run(this.wrap(argv), opts);
  }

  /** In its own process group (lib/exec/children.ts): it outlives a Ctrl-C to the terminal's group. */
  spawn(argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    const [file, ...args] = this.wrap(argv);
    return spawnOwnGroup(file as string, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
  }

  /** A line a human can paste to run `argv` in this namespace. */
  reproduce(argv: readonly string[]): string {
    return shellQuote(['ip', 'netns', 'exec', this.netns, ...argv]);
  }
}
