/**
 * Packet capture inside a host with tcpdump, started only once tcpdump says it is listening
 * (calico felix's tcpdump helper), stopped with SIGINT so the file is complete.
 */
import type { HostExec, HostProcess } from '../exec/netns.js';
import { CommandError, EnvironmentError } from '../errors.js';
import { runOnHost } from './host-run.js';

/** Anything that takes teardown steps, e.g. the lab's Disposer. */
export interface TeardownRegistry {
  defer(what: string, fn: () => Promise<void> | void): void;
}

export interface CaptureOptions {
  /** Path of the pcap file, as the host sees it. */
  file: string;
  /** Interface to capture on. Default `any`. */
  iface?: string;
  /** tcpdump filter expression as argv tokens, e.g. `['tcp', 'port', '80']`. */
  filter?: readonly string[];
  /** Lines of `tcpdump -nn -r FILE` kept as the summary. Default 50. */
  summaryLines?: number;
  /** How long tcpdump may take to report "listening on". Default 5000 ms. */
  startTimeoutMs?: number;
  /** Pause before SIGINT so the last packets of the action reach the file. Default 100 ms. */
  settleMs?: number;
  /** How long to wait for tcpdump to exit after SIGINT before SIGKILL. Default 3000 ms. */
  stopTimeoutMs?: number;
  /** Register the capture's teardown here right after it starts. */
  teardown?: TeardownRegistry;
}

export interface CaptureResult {
  host: string;
  file: string;
  /** Packets written to the file ("N packets captured"). */
  packets: number;
  /** "N packets received by filter" / "N packets dropped by kernel", when tcpdump printed them. */
  receivedByFilter?: number;
  droppedByKernel?: number;
  /** The first `summaryLines` lines of `tcpdump -nn -r FILE`. */
  summary: string;
  /** The capture command and the command that printed the summary, runnable from the root namespace. */
  argv: readonly string[];
  readArgv: readonly string[];
}

export interface Capture {
  readonly host: string;
  readonly file: string;
  readonly argv: readonly string[];
  /** Stop tcpdump (SIGINT), wait for it, and read the file. Idempotent: later calls return the same result. */
  stop(): Promise<CaptureResult>;
  /** End tcpdump without reading the file (for teardown). Idempotent. */
  dispose(): Promise<void>;
}

/** The tcpdump argv of a capture: `tcpdump -Z root -i IFACE -nn -U --immediate-mode -w FILE FILTER...`. */
export function captureArgv(opts: CaptureOptions): string[] {
  // -Z root: keep root so the file can live in a root-owned results directory (Debian drops to
  // user tcpdump otherwise). --immediate-mode: deliver each packet at once; with the default
  // buffering, packets still in the ring when SIGINT arrives are never written.
  return [
    'tcpdump',
    '-Z',
    'root',
    '-i',
    opts.iface ?? 'any',
    '-nn',
    '-U',
    '--immediate-mode',
    '-w',
    opts.file,
    ...(opts.filter ?? []),
  ];
}

/** Parse tcpdump's closing statistics from its stderr. */
export function parseCaptureStats(stderr: string): {
  packets?: number;
  receivedByFilter?: number;
  droppedByKernel?: number;
} {
  const n = (re: RegExp): number | undefined => {
    const m = re.exec(stderr);
    return m ? Number(m[1]) : undefined;
  };
  const out: { packets?: number; receivedByFilter?: number; droppedByKernel?: number } = {};
  const packets = n(/(\d+) packets? captured/);
  const received = n(/(\d+) packets? received by filter/);
  const dropped = n(/(\d+) packets? dropped by kernel/);
  if (packets !== undefined) out.packets = packets;
  if (received !== undefined) out.receivedByFilter = received;
  if (dropped !== undefined) out.droppedByKernel = dropped;
  return out;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

class RunningCapture implements Capture {
  private stopping: Promise<CaptureResult> | undefined;
  private ending: Promise<Exit> | undefined;

  constructor(
    private readonly exec: HostExec,
    readonly file: string,
    readonly argv: readonly string[],
    private readonly child: HostProcess,
    private readonly exited: Promise<Exit>,
    private readonly stderr: () => string,
    private readonly opts: CaptureOptions,
  ) {}

  get host(): string {
    return this.exec.host;
  }

  dispose(): Promise<void> {
    return this.end(0).then(() => undefined);
  }

  stop(): Promise<CaptureResult> {
    this.stopping ??= this.stopAndRead();
    return this.stopping;
  }

  private end(settleMs: number): Promise<Exit> {
    this.ending ??= (async () => {
      const running = () => this.child.exitCode === null && this.child.signalCode === null;
      if (settleMs > 0 && running()) await new Promise((r) => setTimeout(r, settleMs));
      if (running()) this.child.kill('SIGINT');
      const timeout = this.opts.stopTimeoutMs ?? 3000;
      let timer: NodeJS.Timeout | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          if (running()) this.child.kill('SIGKILL');
          resolve();
        }, timeout);
      });
      await Promise.race([this.exited, killed]);
      const exit = await this.exited;
      clearTimeout(timer);
      return exit;
    })();
    return this.ending;
  }

  private async stopAndRead(): Promise<CaptureResult> {
    const exit = await this.end(this.opts.settleMs ?? 100);
    if (exit.error) throw exit.error;
    const stats = parseCaptureStats(this.stderr());
    const lines = this.opts.summaryLines ?? 50;
    const readArgv = ['tcpdump', '-nn', '-r', this.file, '-c', String(lines)];
    const res = await runOnHost(this.exec, readArgv, { allowFailure: true });
    if (res.code !== 0) throw new CommandError(this.exec.wrap(readArgv), res.code, res.stderr, res.stdout);
    const summary = res.stdout.trimEnd();
    const read = summary === '' ? 0 : summary.split('\n').length;
    return {
      host: this.exec.host,
      file: this.file,
      packets: stats.packets ?? read,
      ...(stats.receivedByFilter !== undefined && { receivedByFilter: stats.receivedByFilter }),
      ...(stats.droppedByKernel !== undefined && { droppedByKernel: stats.droppedByKernel }),
      summary,
      argv: this.exec.wrap(this.argv),
      readArgv: this.exec.wrap(readArgv),
    };
  }
}

/**
 * Start tcpdump on `exec`'s host writing `opts.file`; resolves once tcpdump has reported
 * "listening on", so no packet sent afterwards is missed. Rejects with EnvironmentError when
 * tcpdump is missing, CommandError when it exits or stays silent.
 */
export async function startCapture(exec: HostExec, opts: CaptureOptions): Promise<Capture> {
  const argv = captureArgv(opts);
  const child = exec.spawn(argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<Exit>((resolve) => {
    child.on('error', (error) => resolve({ code: null, signal: null, error }));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  const capture = new RunningCapture(exec, opts.file, argv, child, exited, () => stderr, opts);
  opts.teardown?.defer(`capture ${opts.file} on ${exec.host}`, () => capture.dispose());

  const timeoutMs = opts.startTimeoutMs ?? 5000;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      void capture.dispose();
      reject(
        new CommandError(
          exec.wrap(argv),
          null,
          `tcpdump did not report "listening on" within ${timeoutMs} ms\n${stderr}`,
        ),
      );
    }, timeoutMs);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
      if (/listening on/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((exit) => {
      clearTimeout(timer);
      if (/listening on/.test(stderr)) return;
      const failed = new CommandError(exec.wrap(argv), exit.code, exit.error?.message ?? stderr);
      if (exit.code === 127 || /ENOENT|failed to execute tcpdump/.test(exit.error?.message ?? stderr)) {
        reject(
          new EnvironmentError(`${exec.host}: tcpdump is not installed or not on PATH`, { cause: failed }),
        );
      } else reject(failed);
    });
  });
  return capture;
}
