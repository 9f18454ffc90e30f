/**
 * The controller side of the traffic layer: one TrafficAgent per host drives one worker process
 * inside that host (a network namespace in the lab, a container later) through a HostExec.
 *
 *   const agent = await TrafficAgent.start(hostExec, { name: 'client' });
 *   disposer.defer('traffic agent client', () => agent.close());
 */
import { fileURLToPath } from 'node:url';
import { shellQuote } from '../exec/command.js';
import type { HostExec } from '../exec/netns.js';
import { TrafficWorkerError } from './errors.js';
import { OUTCOMES, type Outcome } from './outcome.js';
import { defaultAnswerMs, localPortFor, resolveProbe } from './client.js';
import { WorkerChannel } from './worker-channel.js';
import { validateLongLivedSpec, validateProbeSpec, validateServerSpec } from './validate.js';
import type {
  Attempt,
  HelloResult,
  LongLivedReport,
  LongLivedSpec,
  ProbeBatch,
  ProbeSpec,
  ServerInfo,
  ServerSpec,
  ServerStopResult,
} from './protocol.js';

export interface TrafficAgentOptions {
  /** Used in errors; usually the host id. */
  name: string;
  /** Node binary as seen from the host; default this process's own. */
  nodePath?: string;
  /** Directory holding worker.js and probe-cli.js as seen from the host; default this module's own directory. */
  distDir?: string;
  /** How long the worker may take to answer its first request; default 60 s. */
  startTimeoutMs?: number;
  /**
   * The commands as the host runs them, instead of `nodePath distDir/worker.js` and
   * `nodePath distDir/probe-cli.js`: returnpath's agent image has them as `returnpath-agent worker`
   * and `returnpath-agent probe` (lib/cluster/agent-cli.ts).
   */
  commands?: { worker: readonly string[]; probe: readonly string[] };
}

export interface ProbeResult extends ProbeBatch {
  /** The HostExec host id the probe ran from. */
  host: string;
  /** Number of attempts per outcome. */
  counts: Record<Outcome, number>;
  /** A command a human can paste to redo one attempt of this probe. */
  reproduce: string;
}

export interface LongLivedHandle {
  readonly session: number;
  /** The report right after every connection was attempted. */
  readonly opened: LongLivedReport;
  status(): Promise<LongLivedReport>;
  /** Stop the heartbeat, close the survivors, return the final report. */
  stop(): Promise<LongLivedReport>;
}

/** A HostExec that can print a friendlier reproduce line than its wrap() (NetnsExec: `ip netns exec`). */
interface Reproducible {
  reproduce(argv: readonly string[]): string;
}

function hasReproduce(h: HostExec): h is HostExec & Reproducible {
  return typeof (h as Partial<Reproducible>).reproduce === 'function';
}

export function countOutcomes(attempts: readonly Attempt[]): Record<Outcome, number> {
  const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  for (const a of attempts) counts[a.outcome]++;
  return counts;
}

/**
 * probe-cli argv for one attempt of spec (attempt: which one, for its source port); `command` is
 * what runs probe-cli on the host (`node .../probe-cli.js`, or the agent image's `returnpath-agent probe`).
 */
export function probeCliArgv(command: readonly string[], spec: ProbeSpec, attempt?: Attempt): string[] {
  const p = resolveProbe(spec);
  const argv = [...command, p.kind, p.host, String(p.port), '--deadline', String(p.deadlineMs)];
  if (p.answerMs !== defaultAnswerMs(p.kind, p.deadlineMs)) argv.push('--answer', String(p.answerMs));
  if (p.localAddress) argv.push('--local-address', p.localAddress);
  const port = localPortFor(p, attempt?.i ?? 0);
  if (port !== undefined) argv.push('--local-port', String(port));
  if (p.holdMs > 0) argv.push('--hold', String(p.holdMs));
  if (p.close !== 'fin') argv.push('--close', p.close);
  return argv;
}

export class TrafficAgent {
  private constructor(
    readonly host: HostExec,
    readonly name: string,
    private readonly channel: WorkerChannel,
    private readonly probeCommand: readonly string[],
  ) {}

  /** Spawn the worker on host and wait until it answers. */
  static async start(host: HostExec, opts: TrafficAgentOptions): Promise<TrafficAgent> {
    const nodePath = opts.nodePath ?? process.execPath;
    const distDir = opts.distDir ?? fileURLToPath(new URL('.', import.meta.url)).replace(/\/$/, '');
    const commands = opts.commands ?? {
      worker: [nodePath, `${distDir}/worker.js`],
      probe: [nodePath, `${distDir}/probe-cli.js`],
    };
    const child = host.spawn([...commands.worker], { stdio: ['pipe', 'pipe', 'pipe'] });
    const channel = new WorkerChannel(opts.name, child);
    const agent = new TrafficAgent(host, opts.name, channel, commands.probe);
    // Only a worker that never starts trips this: a busy machine makes one slow, not dead.
    const timeoutMs = opts.startTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        channel.call('hello', {}),
        new Promise<HelloResult>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new TrafficWorkerError(
                  opts.name,
                  `no answer within ${timeoutMs} ms`,
                  'ETIMEDOUT',
                  channel.stderr,
                ),
              ),
            timeoutMs,
          );
        }),
      ]);
    } catch (e) {
      await channel.close(0);
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return agent;
  }

  /** The worker's process id as the controller sees it. */
  get pid(): number | undefined {
    return this.channel.pid;
  }

  /**
   * Start a server; resolves once it is listening. Throws ValidationError for a bad spec and
   * TrafficWorkerError (code EADDRINUSE, EADDRNOTAVAIL, EEXIST for a duplicate name) when it cannot listen.
   */
  async startServer(spec: ServerSpec): Promise<ServerInfo> {
    validateServerSpec(spec);
    return this.channel.call('server.start', spec);
  }

  stopServer(name: string, opts: { reset?: boolean } = {}): Promise<ServerStopResult> {
    return this.channel.call('server.stop', { name, ...opts });
  }

  async probe(spec: ProbeSpec): Promise<ProbeResult> {
    validateProbeSpec(spec);
    const batch = await this.channel.call('probe', spec);
    return {
      ...batch,
      host: this.host.host,
      counts: countOutcomes(batch.attempts),
      reproduce: this.reproduce(spec),
    };
  }

  /** A pasteable command redoing one attempt of spec (the given attempt's source port, if any). */
  reproduce(spec: ProbeSpec, attempt?: Attempt): string {
    const argv = probeCliArgv(this.probeCommand, spec, attempt);
    return hasReproduce(this.host) ? this.host.reproduce(argv) : shellQuote(this.host.wrap(argv));
  }

  async longLived(spec: LongLivedSpec): Promise<LongLivedHandle> {
    validateLongLivedSpec(spec);
    const opened = await this.channel.call('longLived.start', spec);
    const session = opened.session;
    return {
      session,
      opened,
      status: () => this.channel.call('longLived.status', { session }),
      stop: () => this.channel.call('longLived.stop', { session }),
    };
  }

  /** Stop the worker (its servers and connections die with it). Safe to call more than once. */
  close(): Promise<void> {
    return this.channel.close();
  }
}
