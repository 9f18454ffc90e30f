/**
 * Clients: one attempt is one connection (TCP, HTTP over TCP) or one datagram exchange (UDP),
 * classified into an Outcome. A batch runs N attempts with a concurrency limit.
 * Runs inside a worker; uses only node:net and node:dgram.
 */
import { connect, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { classifyErrno, type Outcome, type Phase } from './outcome.js';
import { unmapIPv4 } from './endpoint.js';
import { afterPendingIo, IoDeadline, STALL_REPORT_MS, type DeadlineExpiry } from '../timing/deadline.js';
import type { Attempt, ProbeBatch, ProbeSpec, ServerAnswer } from './protocol.js';

export const DEFAULT_DEADLINE_MS = 300;
export const DEFAULT_CONCURRENCY = 32;
/**
 * Once connected, how long the server's answer may take by default. The connect deadline judges the
 * network (a lost SYN is retransmitted after 1 s); the answer only waits for the server process to
 * be scheduled, and for TCP to repair a lost final ACK (the SYN-ACK is retransmitted after 1 s), so
 * it is generous: a busy machine must not turn a working path into timeouts.
 */
export const DEFAULT_ANSWER_MS = 2000;

/** The answer deadline a spec gets when it names none. */
export function defaultAnswerMs(kind: ProbeSpec['kind'], deadlineMs: number): number {
  return kind === 'udp' ? deadlineMs : Math.max(deadlineMs, DEFAULT_ANSWER_MS);
}

/** The probe spec with every default filled in. */
export type ResolvedProbe = Required<Omit<ProbeSpec, 'localAddress' | 'localPort' | 'localPortRange'>> &
  Pick<ProbeSpec, 'localAddress' | 'localPort' | 'localPortRange'>;

export function resolveProbe(spec: ProbeSpec): ResolvedProbe {
  const deadlineMs = spec.deadlineMs ?? DEFAULT_DEADLINE_MS;
  return {
    ...spec,
    attempts: spec.attempts ?? 1,
    concurrency: spec.concurrency ?? DEFAULT_CONCURRENCY,
    deadlineMs,
    answerMs: spec.answerMs ?? defaultAnswerMs(spec.kind, deadlineMs),
    holdMs: spec.holdMs ?? 0,
    close: spec.close ?? 'fin',
  };
}

/** The source port attempt i uses, or undefined for a kernel-chosen one. */
export function localPortFor(
  spec: Pick<ProbeSpec, 'localPort' | 'localPortRange'>,
  i: number,
): number | undefined {
  if (spec.localPort !== undefined) return spec.localPort;
  if (spec.localPortRange) {
    const [lo, hi] = spec.localPortRange;
    return lo + (i % (hi - lo + 1));
  }
  return undefined;
}

export async function runProbe(spec: ProbeSpec): Promise<ProbeBatch> {
  const p = resolveProbe(spec);
  const startedAt = Date.now();
  const t0 = performance.now();
  const attempts = new Array<Attempt>(p.attempts);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < p.attempts) {
      const i = next++;
      attempts[i] = await attempt(p, i, t0);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(p.concurrency, p.attempts)) }, lane));
  return { spec, startedAt, elapsedMs: round(performance.now() - t0), attempts };
}

export function attempt(p: ResolvedProbe, i: number, t0: number): Promise<Attempt> {
  return p.kind === 'udp' ? udpAttempt(p, i, t0) : streamAttempt(p, i, t0);
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function parseAnswer(text: string): Partial<ServerAnswer> {
  try {
    const a = JSON.parse(text) as Partial<ServerAnswer>;
    return typeof a === 'object' && a !== null ? a : {};
  } catch {
    return {};
  }
}

function answerFields(text: string): Pick<Attempt, 'server' | 'peer' | 'serverLocal'> {
  const a = parseAnswer(text);
  const out: Pick<Attempt, 'server' | 'peer' | 'serverLocal'> = {};
  if (typeof a.server === 'string') out.server = a.server;
  if (typeof a.peer === 'string') out.peer = a.peer;
  if (typeof a.local === 'string') out.serverLocal = a.local;
  return out;
}

/** Split a complete `Connection: close` HTTP/1.x response into status and body. */
function parseHttp(raw: string): { status?: number; body: string } {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  const sep = raw.indexOf('\r\n\r\n');
  return { status: m ? Number(m[1]) : undefined, body: sep >= 0 ? raw.slice(sep + 4) : '' };
}

/** A connected stream handed over by connectStream: the caller owns the socket. */
export interface OpenStream {
  attempt: Attempt;
  socket?: Socket;
}

/**
 * Connect, wait for the server's answer, and classify. When connected, the socket is returned
 * open with no listeners left on it; otherwise it is already destroyed.
 */
export function connectStream(p: ResolvedProbe, i: number, t0: number): Promise<OpenStream> {
  return new Promise((resolve) => {
    const start = performance.now();
    const localPort = localPortFor(p, i);
    const base: Attempt = { i, outcome: 'other', phase: 'connect', startMs: round(start - t0), ms: 0 };
    if (p.localAddress) base.localAddress = p.localAddress;
    if (localPort !== undefined) base.localPort = localPort;
    let phase: Phase = 'connect';
    let settled = false;
    let raw = '';
    const sock: Socket = connect({
      host: p.host,
      port: p.port,
      localAddress: p.localAddress,
      localPort,
      noDelay: true,
    });
    sock.setEncoding('utf8');
    const noteLocal = (): void => {
      if (base.localPort === undefined && sock.localPort !== undefined) base.localPort = sock.localPort;
      if (base.localAddress === undefined && sock.localAddress)
        base.localAddress = unmapIPv4(sock.localAddress);
    };
    // The kernel has picked the source port once connect() was issued (next tick for an IP literal).
    setImmediate(noteLocal);
    // A deadline that fires only after pending I/O was delivered (a stalled client is not a timeout).
    const expire = (e: DeadlineExpiry): void => {
      if (e.lateMs >= STALL_REPORT_MS) base.stallMs = e.lateMs;
      fail('timeout');
    };
    let timer = new IoDeadline(p.deadlineMs, expire);
    let detach = (): void => undefined;

    const settle = (fields: Partial<Attempt>, keep: boolean): void => {
      if (settled) return;
      settled = true;
      timer.clear();
      noteLocal();
      const attempt: Attempt = { ...base, phase, ms: round(performance.now() - start), ...fields };
      if (keep) {
        detach();
        resolve({ attempt, socket: sock });
      } else {
        sock.destroy();
        resolve({ attempt });
      }
    };
    function fail(outcome: Outcome, errno?: string): void {
      settle(errno ? { outcome, errno } : { outcome }, false);
    }
    const connected = (fields: Partial<Attempt>): void => settle({ outcome: 'connected', ...fields }, true);

    const onConnect = (): void => {
      base.connectMs = round(performance.now() - start);
      noteLocal();
      phase = 'answer';
      timer.clear();
      timer = new IoDeadline(p.answerMs, expire);
      if (p.kind === 'http') {
        sock.write(`GET / HTTP/1.1\r\nHost: ${p.host}:${p.port}\r\nConnection: close\r\n\r\n`);
      }
    };
    const onData = (chunk: string): void => {
      raw += chunk;
      if (p.kind === 'tcp') {
        const nl = raw.indexOf('\n');
        if (nl >= 0) connected(answerFields(raw.slice(0, nl)));
      }
    };
    const onEnd = (): void => {
      if (p.kind === 'http' && raw.startsWith('HTTP/')) {
        const { status, body } = parseHttp(raw);
        connected({ ...answerFields(body), ...(status !== undefined ? { status } : {}) });
      } else {
        // The peer closed (FIN) before a complete answer.
        fail('other', 'EOF');
      }
    };
    const onError = (e: NodeJS.ErrnoException): void => fail(classifyErrno(e.code), e.code ?? 'UNKNOWN');
    const onClose = (): void => fail('other', 'CLOSED');
    sock.on('connect', onConnect);
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('error', onError);
    sock.on('close', onClose);
    detach = (): void => {
      sock.off('connect', onConnect);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', onError);
      sock.off('close', onClose);
    };
  });
}

/**
 * Close a connected attempt. 'rst' aborts (no TIME_WAIT). 'fin' sends a FIN; with a chosen source
 * port it also waits (up to waitMs) for the server's FIN, so the next attempt from the same port
 * towards the same destination finds the old connection in TIME_WAIT (reusable by an explicitly
 * bound socket) rather than still closing (EADDRNOTAVAIL).
 */
async function closeStream(sock: Socket, how: 'fin' | 'rst', waitMs: number): Promise<void> {
  if (sock.destroyed) return;
  if (how === 'rst') return void sock.resetAndDestroy();
  if (waitMs <= 0) {
    // Everything the server sends has been read, so close(2) sends a FIN and the kernel finishes the close.
    sock.destroy();
    return;
  }
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => sock.destroy(), waitMs);
    sock.on('error', () => undefined);
    sock.on('data', () => undefined);
    sock.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    sock.end();
  });
}

async function streamAttempt(p: ResolvedProbe, i: number, t0: number): Promise<Attempt> {
  const { attempt, socket } = await connectStream(p, i, t0);
  if (!socket) return attempt;
  if (p.holdMs > 0) attempt.held = await hold(socket, p.holdMs);
  const chosenPort = p.localPort !== undefined || p.localPortRange !== undefined;
  await closeStream(socket, p.close, chosenPort ? p.answerMs : 0);
  return attempt;
}

/** Keep a connected socket open for ms; report what happened to it meanwhile. */
function hold(sock: Socket, ms: number): Promise<NonNullable<Attempt['held']>> {
  return new Promise((resolve) => {
    let held: NonNullable<Attempt['held']> = 'survived';
    sock.on('data', () => undefined);
    sock.on('end', () => {
      if (held === 'survived') held = 'closed';
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (held === 'survived') held = classifyErrno(e.code) === 'reset' ? 'reset' : 'other';
    });
    // What arrived before the hold ended counts, even when this process was descheduled past it.
    setTimeout(() => afterPendingIo(() => resolve(held)), ms);
  });
}

function udpAttempt(p: ResolvedProbe, i: number, t0: number): Promise<Attempt> {
  return new Promise((resolve) => {
    const start = performance.now();
    const localPort = localPortFor(p, i);
    const base: Attempt = { i, outcome: 'other', phase: 'answer', startMs: round(start - t0), ms: 0 };
    if (p.localAddress) base.localAddress = p.localAddress;
    if (localPort !== undefined) base.localPort = localPort;
    const sock = createSocket({ type: p.host.includes(':') ? 'udp6' : 'udp4', reuseAddr: true });
    let settled = false;
    const finish = (fields: Partial<Attempt>): void => {
      if (settled) return;
      settled = true;
      timer.clear();
      try {
        const a = sock.address();
        if (base.localPort === undefined) base.localPort = a.port;
      } catch {
        // not bound
      }
      sock.close();
      resolve({ ...base, ms: round(performance.now() - start), ...fields });
    };
    const timer = new IoDeadline(p.deadlineMs, (e) =>
      finish({ outcome: 'timeout', ...(e.lateMs >= STALL_REPORT_MS && { stallMs: e.lateMs }) }),
    );
    sock.on('error', (e: NodeJS.ErrnoException) =>
      finish({ outcome: classifyErrno(e.code), errno: e.code ?? 'UNKNOWN' }),
    );
    sock.on('message', (msg) =>
      finish({ outcome: 'connected', ...answerFields(msg.toString('utf8').trim()) }),
    );
    const send = (): void =>
      sock.connect(p.port, p.host, (err?: Error) => {
        if (err)
          return finish({
            outcome: classifyErrno((err as NodeJS.ErrnoException).code),
            errno: String((err as NodeJS.ErrnoException).code),
          });
        sock.send('probe\n', (e) => {
          if (e)
            finish({
              outcome: classifyErrno((e as NodeJS.ErrnoException).code),
              errno: String((e as NodeJS.ErrnoException).code),
            });
        });
      });
    if (p.localAddress !== undefined || localPort !== undefined)
      sock.bind({ address: p.localAddress, port: localPort ?? 0 }, send);
    else send();
  });
}
