/**
 * A long-running real component (etcd, kube-apiserver, kube-controller-manager, kube-proxy, a
 * relay): started with its output going to a log file (so it outlives this process when detached,
 * and its last lines can be read when it dies), stopped with SIGTERM then SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { spawnOwnGroup } from '../exec/children.js';
import { processStartTime, type ProcessIdentity } from '../exec/process-identity.js';

export interface ComponentProcessOptions {
  /** For messages: `kube-apiserver (slot 0)`, `kube-proxy on node-1`. */
  name: string;
  argv: readonly string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Survives this process (a lab left up by `lab up`). */
  detached?: boolean;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A component exited while it was needed. The message carries its last log lines. */
export class ComponentDiedError extends Error {
  override readonly name = 'ComponentDiedError';
  constructor(
    readonly component: string,
    readonly exit: ExitInfo,
    readonly lastLines: readonly string[],
  ) {
    super(
      `${component} exited (${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`}) during the run; ` +
        `its last log lines:\n${lastLines.map((l) => `    ${l}`).join('\n') || '    (no output)'}`,
    );
  }
}

export class ComponentProcess {
  readonly name: string;
  readonly logFile: string;
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;
  private stopping = false;

  private constructor(
    private readonly child: ChildProcess,
    opts: ComponentProcessOptions,
  ) {
    this.name = opts.name;
    this.logFile = opts.logFile;
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        this.exitInfo ??= { code, signal };
        resolve(this.exitInfo);
      };
      child.once('exit', done);
      child.once('error', () => done(null, null));
    });
  }

  static start(opts: ComponentProcessOptions): ComponentProcess {
    const fd = openSync(opts.logFile, 'a');
    try {
      const [file, ...args] = opts.argv;
      const options = {
        stdio: ['ignore', fd, fd] as ['ignore', number, number],
        ...(opts.env && { env: opts.env }),
        ...(opts.cwd && { cwd: opts.cwd }),
      };
      // Its own process group either way: a Ctrl-C to the terminal's group must not kill the
      // control plane under the cells in flight (the run stops it in order, or a second signal does).
      const child = opts.detached
        ? spawn(file!, args, { ...options, detached: true })
        : spawnOwnGroup(file!, args, options);
      const p = new ComponentProcess(child, opts);
      if (opts.detached) child.unref();
      return p;
    } finally {
      closeSync(fd);
    }
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  identity(): ProcessIdentity {
    return { pid: this.pid, startTime: processStartTime(this.pid) ?? 0 };
  }

  get running(): boolean {
    return this.exitInfo === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last `n` lines of its log. */
  lastLines(n = 15): string[] {
    return lastLogLines(this.logFile, n);
  }

  /**
   * Rejects with ComponentDiedError when the process exits without having been asked to stop;
   * never settles otherwise. Race a wait or a probe against it.
   */
  died(): Promise<never> {
    return this.exited.then((exit) => {
      if (this.stopping) return new Promise<never>(() => undefined);
      throw new ComponentDiedError(this.name, exit, this.lastLines());
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. Idempotent. */
  async stop(graceMs = 5000): Promise<ExitInfo> {
    this.stopping = true;
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.running) this.child.kill('SIGKILL');
    }, graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

export function lastLogLines(file: string, n: number): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-n);
}

/**
 * `work`, unless one of `components` dies first: then rejects with its ComponentDiedError (with
 * its last log lines). `work` is not cancelled; the caller tears down.
 */
export function whileRunning<T>(work: Promise<T>, components: readonly ComponentProcess[]): Promise<T> {
  return Promise.race([work, ...components.map((c) => c.died())]);
}
