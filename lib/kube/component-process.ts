/**
 * A long-running real component (etcd, kube-apiserver, kube-controller-manager, kube-proxy, a
 * relay): started with its output going to a log file (so it outlives this process when detached,
 * and its last lines can be read when it dies), stopped with SIGTERM then SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync } from 'node:fs';
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
  /**
   * Restarted, at most this many times, when it exits before `markReady()`, as the kubelet
   * restarts a crashed container (default 0). For upstream start-up races: kube-proxy v1.36.3 can
   * panic in `NodeConfig.handleChangeNode` when its node informer (already started) delivers the
   * first Add while `RegisterEventHandler` appends to the handler list. After `markReady()` an exit
   * is a death (`died()` rejects): a component that fails while a cell measures is a finding.
   */
  restartsBeforeReady?: number;
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
  /** The final exit (after any restarts). */
  readonly exited: Promise<ExitInfo>;
  private child: ChildProcess;
  private exitInfo: ExitInfo | undefined;
  private resolveExited!: (e: ExitInfo) => void;
  private stopping = false;
  private ready = false;
  private restartCount = 0;
  /** The running child's start time (stop() signals only that process, never one that took its PID). */
  private startTime: number | undefined;

  private constructor(private readonly opts: ComponentProcessOptions) {
    this.name = opts.name;
    this.logFile = opts.logFile;
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    this.child = this.spawnChild();
  }

  static start(opts: ComponentProcessOptions): ComponentProcess {
    return new ComponentProcess(opts);
  }

  /** Its command line. */
  get argv(): readonly string[] {
    return this.opts.argv;
  }

  /** How many times it was restarted before it was ready. */
  get restarts(): number {
    return this.restartCount;
  }

  /** It did what it starts for (kube-proxy: its first sync): from now on an exit is a death. */
  markReady(): void {
    this.ready = true;
  }

  private spawnChild(): ChildProcess {
    const opts = this.opts;
    const fd = openSync(opts.logFile, 'a');
    let child: ChildProcess;
    try {
      const [file, ...args] = opts.argv;
      const options = {
        stdio: ['ignore', fd, fd] as ['ignore', number, number],
        ...(opts.env && { env: opts.env }),
        ...(opts.cwd && { cwd: opts.cwd }),
      };
      // Its own process group either way: a Ctrl-C to the terminal's group must not kill the
      // control plane under the cells in flight (the run stops it in order, or a second signal does).
      child = opts.detached
        ? spawn(file!, args, { ...options, detached: true })
        : spawnOwnGroup(file!, args, options);
      if (opts.detached) child.unref();
    } finally {
      closeSync(fd);
    }
    if (child.pid !== undefined) this.startTime = processStartTime(child.pid);
    let settled = false;
    const done = (code: number | null, signal: NodeJS.Signals | null, spawnFailed: boolean): void => {
      if (settled) return;
      settled = true;
      if (!spawnFailed && this.mayRestart()) {
        this.restartCount++;
        const how = signal ? `signal ${signal}` : `code ${code}`;
        appendFileSync(
          opts.logFile,
          `returnpath: ${this.name} exited (${how}) before it was ready; restarted ` +
            `(${this.restartCount} of ${opts.restartsBeforeReady}), as the kubelet restarts a crashed container\n`,
        );
        this.child = this.spawnChild();
        return;
      }
      this.exitInfo ??= { code, signal };
      this.resolveExited(this.exitInfo);
    };
    child.once('exit', (code, signal) => done(code, signal, false));
    child.once('error', () => done(null, null, true));
    return child;
  }

  private mayRestart(): boolean {
    return !this.stopping && !this.ready && this.restartCount < (this.opts.restartsBeforeReady ?? 0);
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
    // Never a process that took its PID since (the start time tells).
    const id = this.startTime;
    const signal = (sig: NodeJS.Signals): void => {
      if (this.running && processStartTime(this.pid) === id) this.child.kill(sig);
    };
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), graceMs);
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
