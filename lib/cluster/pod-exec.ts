/**
 * A HostExec whose commands run in a pod, through the Kubernetes API: the pods/exec subresource
 * over a WebSocket (`v5.channel.k8s.io`, falling back to `v4`), with client-node's Exec building
 * the request and multiplexing the streams. The traffic worker's JSON lines travel over stdin and
 * stdout exactly as they do through `nsenter` in the lab, so the traffic and evidence layers do not
 * know where their host is.
 *
 * The exit code comes from the status channel (a metav1.Status: Success, or NonZeroExitCode with
 * the code as a cause). A command cannot be signalled through the API: kill() closes the
 * connection, and closing stdin (v5's close frame) is how a worker is asked to leave.
 */
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
import WebSocket from 'ws';
import type { SpawnOptions } from 'node:child_process';
import { CommandError } from '../errors.js';
import { shellQuote, type CommandResult, type RunOptions } from '../exec/command.js';
import type { HostExec, HostProcess } from '../exec/netns.js';

/** Subprotocols offered, newest first (client-node offers the same list). */
export const EXEC_PROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v3.channel.k8s.io',
  'v2.channel.k8s.io',
  'channel.k8s.io',
];

export interface PodRef {
  namespace: string;
  name: string;
  container: string;
}

export interface PodExecOptions {
  /** For the reproduce line: `kubectl --kubeconfig FILE [--context C] exec ...`. */
  kubeconfigPath?: string;
  context?: string;
}

/** Why an exec could not start: the apiserver's answer to the upgrade request, in one line. */
export class ExecRefused extends Error {
  override readonly name = 'ExecRefused';
  constructor(
    readonly pod: string,
    readonly status: number | undefined,
    detail: string,
  ) {
    super(`exec in pod ${pod} refused${status ? ` (HTTP ${status})` : ''}: ${detail}`);
  }
}

/** The `message` of a metav1.Status body, or the body itself. */
function statusMessage(body: string): string {
  try {
    const s = JSON.parse(body) as { message?: string };
    if (s.message) return s.message;
  } catch {
    // not a Status
  }
  return body.trim().slice(0, 500) || '(no body)';
}

/**
 * client-node's WebSocketInterface, connecting with `ws` and the kubeconfig's TLS and credentials,
 * so that a refused upgrade (403 without RBAC for pods/exec, 404 for a pod that is gone) becomes an
 * error naming the apiserver's reason instead of a bare "Unexpected server response".
 */
class ExecConnector {
  constructor(
    private readonly kc: KubeConfig,
    private readonly pod: string,
  ) {}

  async connect(
    path: string,
    textHandler: ((text: string) => boolean) | null,
    binaryHandler: ((stream: number, buff: Buffer) => boolean) | null,
  ): Promise<WebSocket> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new ExecRefused(this.pod, undefined, 'the kubeconfig has no current cluster');
    const url = cluster.server.replace(/^http/, 'ws').replace(/\/$/, '') + path;
    const opts: WebSocket.ClientOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, EXEC_PROTOCOLS, opts);
      let open = false;
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => reject(new ExecRefused(this.pod, res.statusCode, statusMessage(body))));
      });
      ws.on('open', () => {
        open = true;
        resolve(ws);
      });
      ws.on('error', (e) => {
        if (!open) reject(new ExecRefused(this.pod, undefined, e.message));
      });
      ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
        if (!isBinary) {
          if (textHandler && !textHandler(buf.toString('utf8'))) ws.close();
          return;
        }
        if (buf.length === 0) return;
        // v5's close frame ([255, stream]) from the server: the stream ended; nothing else to do.
        if (buf[0] === 255) return;
        if (binaryHandler && !binaryHandler(buf[0]!, buf.subarray(1))) ws.close();
      });
    });
  }
}

/** Exit code of a finished exec, from its status. */
export function execExitCode(status: V1Status): number | null {
  if (status.status === 'Success') return 0;
  if (status.reason === 'NonZeroExitCode') {
    const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
    const n = Number(cause?.message);
    return Number.isInteger(n) ? n : 1;
  }
  return null;
}

/** A command running in a pod: the HostProcess side of one exec connection. */
class ExecProcess extends EventEmitter implements HostProcess {
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly pid = undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  private ws: WebSocket | undefined;
  private finished = false;
  private killed = false;

  /** withStdin false: the command gets no stdin (v4 cannot close stdin without ending the session). */
  constructor(exec: Exec, pod: PodRef, argv: readonly string[], withStdin: boolean) {
    super();
    let status: V1Status | undefined;
    const stdin = withStdin ? this.stdin : null;
    exec
      .exec(
        pod.namespace,
        pod.name,
        pod.container,
        [...argv],
        this.stdout,
        this.stderr,
        stdin,
        false,
        (s) => {
          status = s;
        },
      )
      .then(
        (ws) => {
          this.ws = ws;
          if (this.killed) ws.terminate();
          ws.on('close', () => this.finish(status));
        },
        (e: unknown) => {
          this.emit('error', e instanceof Error ? e : new Error(String(e)));
          this.finish(undefined);
        },
      );
  }

  private finish(status: V1Status | undefined): void {
    if (this.finished) return;
    this.finished = true;
    if (status) {
      this.exitCode = execExitCode(status);
      if (this.exitCode === null) this.stderr.write(`exec: ${status.message ?? status.reason ?? 'failed'}\n`);
    } else if (this.killed) this.signalCode = 'SIGKILL';
    this.stdout.end();
    this.stderr.end();
    this.stdin.destroy();
    this.emit('exit', this.exitCode, this.signalCode);
    // 'close' after the output streams have been read to their end, as a child process does.
    let open = 2;
    const closed = (): void => {
      if (--open === 0) this.emit('close', this.exitCode, this.signalCode);
    };
    for (const s of [this.stdout, this.stderr])
      if (s.readableEnded) closed();
      else {
        s.once('end', closed);
        if (s.listenerCount('data') === 0 && !s.readableFlowing) s.resume();
      }
  }

  kill(): boolean {
    if (this.finished) return false;
    this.killed = true;
    this.ws?.terminate();
    return true;
  }
}

export class PodExec implements HostExec {
  private readonly exec: Exec;

  constructor(
    readonly host: string,
    kc: KubeConfig,
    readonly pod: PodRef,
    private readonly opts: PodExecOptions = {},
  ) {
    this.exec = new Exec(kc, new ExecConnector(kc, `${pod.namespace}/${pod.name}`));
  }

  /** `kubectl exec` with the same kubeconfig, for reproduce lines. */
  wrap(argv: readonly string[]): string[] {
    return [
      'kubectl',
      ...(this.opts.kubeconfigPath ? ['--kubeconfig', this.opts.kubeconfigPath] : []),
      ...(this.opts.context ? ['--context', this.opts.context] : []),
      'exec',
      '-i',
      '-n',
      this.pod.namespace,
      this.pod.name,
      '-c',
      this.pod.container,
      '--',
      ...argv,
    ];
  }

  reproduce(argv: readonly string[]): string {
    return shellQuote(this.wrap(argv));
  }

  /** stdio[0] 'ignore' starts the command without stdin. */
  spawn(argv: readonly string[], opts: SpawnOptions = {}): HostProcess {
    const stdio = opts.stdio;
    const withStdin = !(stdio === 'ignore' || (Array.isArray(stdio) && stdio[0] === 'ignore'));
    return new ExecProcess(this.exec, this.pod, argv, withStdin);
  }

  run(argv: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      const p = this.spawn(argv, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let failed: Error | undefined;
      const timer = opts.timeoutMs ? setTimeout(() => p.kill(), opts.timeoutMs) : undefined;
      p.stdout!.on('data', (d: Buffer) => out.push(d));
      p.stderr!.on('data', (d: Buffer) => err.push(d));
      p.on('error', (e: Error) => (failed = e));
      p.on('close', (code: number | null) => {
        if (timer) clearTimeout(timer);
        const wrapped = this.wrap(argv);
        if (failed) {
          reject(failed);
          return;
        }
        const result = {
          argv: wrapped,
          code,
          stdout: Buffer.concat(out).toString(),
          stderr: Buffer.concat(err).toString(),
        };
        if (code !== 0 && !opts.allowFailure)
          reject(new CommandError(wrapped, code, result.stderr, result.stdout));
        else resolve(result);
      });
      if (opts.input !== undefined) p.stdin!.end(opts.input);
    });
  }
}
