/**
 * The remote command protocol of `kubectl exec` over WebSocket (pure, unit-tested), as the kubelet
 * speaks it when the apiserver hands it the upgrade (ExtendWebSocketsToKubelet): subprotocols
 * `v5.channel.k8s.io` (and `v4.channel.k8s.io`); every binary message starts with its channel
 * byte: 0 stdin, 1 stdout, 2 stderr, 3 the error channel (one metav1.Status JSON at the end), 4
 * resize; v5 adds 255 CHANNEL: the client closed that stream (stdin: EOF).
 * (k8s.io/streaming httpstream/wsstream conn.go, cri-streaming remotecommand websocket.go, exec.go)
 */
export const V5 = 'v5.channel.k8s.io';
export const V4 = 'v4.channel.k8s.io';
export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const ERROR = 3;
export const RESIZE = 4;
export const CLOSE = 255;

/** The subprotocol the server picks from those the client offers (v5 first), or undefined. */
export function pickProtocol(offered: Iterable<string>): string | undefined {
  const o = new Set(offered);
  return [V5, V4].find((p) => o.has(p));
}

export function frame(channel: number, data: Uint8Array | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
  return Buffer.concat([Buffer.from([channel]), body]);
}

export type ClientFrame =
  | { kind: 'data'; channel: number; data: Buffer }
  | { kind: 'close'; channel: number }
  | { kind: 'invalid'; why: string };

export function parseClientFrame(msg: Buffer, protocol: string): ClientFrame | undefined {
  if (msg.length === 0) return undefined;
  if (protocol === V5 && msg[0] === CLOSE) {
    if (msg.length !== 2)
      return { kind: 'invalid', why: 'a stream close signal carries exactly one channel byte' };
    return { kind: 'close', channel: msg[1]! };
  }
  return { kind: 'data', channel: msg[0]!, data: msg.subarray(1) };
}

/** The metav1.Status written on the error channel when the command ends. */
export function exitStatus(exitCode: number, signal?: string): Record<string, unknown> {
  if (exitCode === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: ${signal ? `killed by ${signal}` : `exit status ${exitCode}`}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

/** A failure to run the command at all (InternalError), as the kubelet reports it. */
export function errorStatus(message: string): Record<string, unknown> {
  return {
    metadata: {},
    status: 'Failure',
    message: `error executing command in container: ${message}`,
    reason: 'InternalError',
    details: { causes: [{ message }] },
    code: 500,
  };
}

export interface ExecRequest {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** Parses `/exec/NS/POD/CONTAINER?command=..&input=1&output=1&error=1`; a message when malformed. */
export function parseExecUrl(url: string): ExecRequest | string {
  const u = new URL(url, 'https://kubelet.invalid');
  const m = /^\/exec\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(u.pathname);
  if (!m) return `${u.pathname}: not /exec/NAMESPACE/POD/CONTAINER`;
  const command = u.searchParams.getAll('command');
  if (command.length === 0) return 'no command given (command=...)';
  const flag = (n: string): boolean => ['1', 'true'].includes(u.searchParams.get(n) ?? '');
  return {
    namespace: decodeURIComponent(m[1]!),
    pod: decodeURIComponent(m[2]!),
    container: decodeURIComponent(m[3]!),
    command,
    stdin: flag('input'),
    stdout: flag('output'),
    stderr: flag('error'),
    tty: flag('tty'),
  };
}
