/**
 * The lab kubelet's HTTPS endpoint: `/healthz`, `/containerLogs/NS/POD/CONTAINER` (kubectl logs:
 * the whole log file), and `/exec/NS/POD/CONTAINER` as a WebSocket
 * (remote command protocol v5/v4, channels.ts) that the apiserver hands over unchanged when the
 * Node declares ExtendWebSocketsToKubelet. One listener for the whole lab, on its run-private
 * loopback address; TLS with the lab PKI's kubelet certificate, and the client (the apiserver's
 * kubelet client certificate) must present a certificate of the lab CA.
 */
import type { ChildProcess } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { NetnsExec } from '../../exec/netns.js';
import { processStartTime } from '../../exec/process-identity.js';
import {
  ERROR,
  errorStatus,
  exitStatus,
  frame,
  parseClientFrame,
  parseExecUrl,
  pickProtocol,
  STDERR,
  STDIN,
  STDOUT,
  V4,
  V5,
  type ExecRequest,
} from './channels.js';
import { exitCodeOf } from './pod-status.js';

export interface ExecTarget {
  /** Where the command runs: the pod's slot namespace, or its node's (hostNetwork). */
  exec: NetnsExec;
  argv: string[];
  env: NodeJS.ProcessEnv;
  /** Called with the started process (stopped with the Pod). */
  track(child: ChildProcess): void;
}

export interface ExecServerOptions {
  host: string;
  port: number;
  /** PEM files: serving certificate and key, and the CA client certificates must chain to. */
  cert: string;
  key: string;
  ca: string;
  /** The command's target, or an HTTP status and message (no such pod, not running, ...). */
  resolve(req: ExecRequest): ExecTarget | { status: number; message: string };
  /** The log file of a Pod's container (`kubectl logs`), or an HTTP status and message. */
  logFile(namespace: string, pod: string, container: string): string | { status: number; message: string };
  healthy(): boolean;
  log?: (line: string) => void;
}

export class ExecServer {
  private server: Server | undefined;
  private readonly wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => pickProtocol(protocols) ?? false,
  });
  private readonly live = new Set<WebSocket>();

  constructor(private readonly o: ExecServerOptions) {}

  async start(): Promise<void> {
    const server = createServer({
      cert: readFileSync(this.o.cert),
      key: readFileSync(this.o.key),
      ca: readFileSync(this.o.ca),
      requestCert: true,
      rejectUnauthorized: true,
    });
    server.on('request', (req, res) => {
      const logs = /^\/containerLogs\/([^/?]+)\/([^/?]+)\/([^/?]+)(?:\?|$)/.exec(req.url ?? '');
      if (req.url === '/healthz') {
        const ok = this.o.healthy();
        res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok' : 'starting');
      } else if (logs) {
        // The whole log as it is now (no follow, tail or timestamps).
        const f = this.o.logFile(...(logs.slice(1, 4).map(decodeURIComponent) as [string, string, string]));
        if (typeof f !== 'string')
          res.writeHead(f.status, { 'content-type': 'text/plain' }).end(`${f.message}\n`);
        else
          createReadStream(f)
            .on('error', (e) => res.writeHead(404, { 'content-type': 'text/plain' }).end(`${e.message}\n`))
            .once('open', () => res.writeHead(200, { 'content-type': 'text/plain' }))
            .pipe(res);
      } else
        res
          .writeHead(404, { 'content-type': 'text/plain' })
          .end(`${req.url}: not served by the lab kubelet\n`);
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(req, socket, head),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const ws of this.live) ws.terminate();
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    // The apiserver keeps its connections alive: close() alone would wait for them.
    s.closeAllConnections();
    await closed;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (status: number, message: string): void => {
      this.o.log?.(`exec refused (${status}): ${message}`);
      socket.end(
        `HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Bad Request'}\r\ncontent-type: text/plain\r\n` +
          `content-length: ${Buffer.byteLength(message) + 1}\r\nconnection: close\r\n\r\n${message}\n`,
      );
    };
    const parsed = parseExecUrl(req.url ?? '/');
    if (typeof parsed === 'string') return refuse(400, parsed);
    if (parsed.tty) return refuse(400, 'the lab kubelet runs commands without a terminal (tty)');
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim());
    if (!pickProtocol(offered)) return refuse(400, `supported WebSocket subprotocols: ${V5}, ${V4}`);
    const target = this.o.resolve(parsed);
    if ('status' in target) return refuse(target.status, target.message);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.run(ws, parsed, target));
  }

  private run(ws: WebSocket, r: ExecRequest, t: ExecTarget): void {
    this.live.add(ws);
    const protocol = ws.protocol;
    const send = (channel: number, data: Buffer | string): void => {
      if (ws.readyState === ws.OPEN) ws.send(frame(channel, data));
    };
    let child: ChildProcess;
    try {
      child = trackStart(t.exec.spawn(t.argv, { stdio: ['pipe', 'pipe', 'pipe'], env: t.env }));
    } catch (e) {
      send(ERROR, JSON.stringify(errorStatus((e as Error).message)));
      ws.close(1000);
      return;
    }
    t.track(child);
    this.o.log?.(`exec in ${r.namespace}/${r.pod}: ${JSON.stringify(r.command)} (pid ${child.pid})`);
    // The kubelet's first message: an empty one on the lowest writable channel (the stream is up).
    send(r.stdout ? STDOUT : r.stderr ? STDERR : ERROR, Buffer.alloc(0));
    child.stdout!.on('data', (d: Buffer) => r.stdout && send(STDOUT, d));
    child.stderr!.on('data', (d: Buffer) => r.stderr && send(STDERR, d));
    child.stdin!.on('error', () => undefined);
    if (!r.stdin) child.stdin!.end();
    let finished = false;
    let spawnError: Error | undefined;
    child.once('error', (e) => (spawnError = e));
    child.once('close', (code, signal) => {
      finished = true;
      const status = spawnError
        ? errorStatus(spawnError.message)
        : exitStatus(exitCodeOf(code, signal), signal ?? undefined);
      send(ERROR, JSON.stringify(status));
      ws.close(1000);
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      const f = parseClientFrame(data, protocol);
      if (!f) return;
      if (f.kind === 'close' && f.channel === STDIN) child.stdin!.end();
      else if (f.kind === 'data' && f.channel === STDIN && r.stdin) child.stdin!.write(f.data);
      else if (f.kind === 'invalid') this.o.log?.(`exec in ${r.namespace}/${r.pod}: ${f.why}`);
    });
    ws.on('close', () => {
      this.live.delete(ws);
      if (finished) return;
      // The client went away (v4 clients close to say end of input): EOF, then a grace period.
      child.stdin!.end();
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5000);
      child.once('close', () => clearTimeout(timer));
    });
    ws.on('error', () => undefined);
  }
}

/** Start times of the processes this module and the kubelet started (killGroup checks them). */
const started = new WeakMap<ChildProcess, number | undefined>();

/** Records `child`'s start time, so that a later killGroup never signals a process that took its PID. */
export function trackStart(child: ChildProcess): ChildProcess {
  if (child.pid !== undefined) started.set(child, processStartTime(child.pid));
  return child;
}

/**
 * Signals a process started in its own group, and everything it started. Not when it has exited
 * or its PID now belongs to another process (its start time differs): a reaped child's PID is free
 * before Node reports the exit, and the group of a detached process started since (kube-proxy is
 * one) may carry that number.
 */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const t = started.get(child);
  if (t === undefined || processStartTime(child.pid) !== t) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}
