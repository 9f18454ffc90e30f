/**
 * Long-lived connections: K connections to a tcp server, each sending a small message every
 * intervalMs (the tcp server echoes it). Each connection's fate is recorded with timestamps:
 * reset (RST), timeout (no echo within replyTimeoutMs), closed (FIN from the peer), or, when the
 * session is stopped, survived.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { classifyErrno } from './outcome.js';
import { afterPendingIo } from '../timing/deadline.js';
import { connectStream, resolveProbe, type ResolvedProbe } from './client.js';
import type { LongLivedConnection, LongLivedReport, LongLivedSpec, LongLivedState } from './protocol.js';

export const DEFAULT_INTERVAL_MS = 200;
/** The shortest default reply timeout: an echo waits for the server process to be scheduled. */
export const MIN_DEFAULT_REPLY_TIMEOUT_MS = 2000;

interface Live {
  report: LongLivedConnection;
  socket?: Socket;
  /** Send times (epoch ms) of messages not yet echoed. */
  pending: number[];
}

export class LongLivedSession {
  private readonly startedAt = Date.now();
  private stoppedAt: number | undefined;
  private readonly conns: Live[] = [];
  private ticker: NodeJS.Timeout | undefined;
  private readonly intervalMs: number;
  private readonly replyTimeoutMs: number;

  private constructor(
    readonly id: number,
    readonly spec: LongLivedSpec,
  ) {
    this.intervalMs = spec.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.replyTimeoutMs = spec.replyTimeoutMs ?? Math.max(3 * this.intervalMs, MIN_DEFAULT_REPLY_TIMEOUT_MS);
  }

  /** Open every connection (each waits for the server's answer), then start the heartbeat. */
  static async open(id: number, spec: LongLivedSpec): Promise<LongLivedSession> {
    const session = new LongLivedSession(id, spec);
    const count = spec.connections ?? 1;
    const probe: ResolvedProbe = resolveProbe({ ...spec, kind: 'tcp', attempts: count });
    const t0 = performance.now();
    const opened = await Promise.all(Array.from({ length: count }, (_, i) => connectStream(probe, i, t0)));
    opened.forEach(({ attempt, socket }, index) => {
      const report: LongLivedConnection = { index, state: 'failed', connect: attempt, sent: 0, replies: 0 };
      const live: Live = { report, pending: [] };
      if (socket) session.watch(live, socket);
      session.conns.push(live);
    });
    session.ticker = setInterval(() => session.tick(), session.intervalMs);
    return session;
  }

  report(): LongLivedReport {
    const r: LongLivedReport = {
      session: this.id,
      spec: this.spec,
      startedAt: this.startedAt,
      connections: this.conns.map((c) => ({ ...c.report })),
    };
    if (this.stoppedAt !== undefined) r.stoppedAt = this.stoppedAt;
    return r;
  }

  /** Close every live connection (FIN) and mark it survived. Idempotent. */
  stop(): LongLivedReport {
    if (this.stoppedAt === undefined) {
      this.stoppedAt = Date.now();
      clearInterval(this.ticker);
      for (const c of this.conns) {
        if (c.report.state === 'open') {
          c.report.state = 'survived';
          c.socket?.destroy();
        }
      }
    }
    return this.report();
  }

  private watch(live: Live, socket: Socket): void {
    live.socket = socket;
    live.report.state = 'open';
    live.report.openedAt = Date.now();
    socket.on('data', (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\n' && live.pending.length > 0) {
          live.pending.shift();
          live.report.replies++;
          live.report.lastReplyAt = Date.now();
        }
      }
    });
    socket.on('end', () => this.die(live, 'closed'));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      const outcome = classifyErrno(e.code);
      this.die(live, outcome === 'reset' ? 'reset' : outcome === 'timeout' ? 'timeout' : 'error', e.code);
    });
    socket.on('close', () => this.die(live, 'closed'));
  }

  private die(live: Live, state: LongLivedState, errno?: string): void {
    if (live.report.state !== 'open') return;
    const now = Date.now();
    live.report.state = state;
    live.report.diedAt = now;
    if (live.report.openedAt !== undefined) live.report.livedMs = now - live.report.openedAt;
    if (errno) live.report.errno = errno;
    live.socket?.destroy();
  }

  private tick(): void {
    const now = Date.now();
    for (const c of this.conns) {
      if (c.report.state !== 'open' || !c.socket) continue;
      const oldest = c.pending[0];
      if (oldest !== undefined && now - oldest > this.replyTimeoutMs) {
        // Judge after the echoes already received were read (this process may have been descheduled).
        afterPendingIo(() => {
          if (c.report.state === 'open' && c.pending[0] === oldest) this.die(c, 'timeout');
        });
        continue;
      }
      c.pending.push(now);
      c.report.sent++;
      c.socket.write(`ping ${c.report.sent}\n`);
    }
  }
}
