/**
 * Running one CNI plugin binary as the CNI spec says (SPEC.md "Execution protocol"): the
 * operation and its parameters in CNI_* environment variables, the network configuration as JSON
 * on stdin, the result (ADD, VERSION) or a JSON error on stdout. A plugin that exits non-zero, or
 * prints something that is not JSON, or runs past the timeout, becomes a CniError that keeps what
 * the plugin said: its error code, msg and details, and the end of its stderr.
 */
import { spawnOwnGroup } from '../../exec/children.js';
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';

export type CniCommand = 'ADD' | 'CHECK' | 'DEL' | 'VERSION' | 'STATUS' | 'GC';

export interface PluginInvocation {
  command: CniCommand;
  containerId: string;
  /** Path of the container's network namespace (CNI_NETNS). */
  netns: string;
  ifName: string;
  /** CNI_ARGS as key/value pairs (`IgnoreUnknown=1;K8S_POD_NAME=...`). */
  args: readonly (readonly [string, string])[];
  /** CNI_PATH: where plugins (and their delegates, e.g. IPAM) are found. */
  path: readonly string[];
}

export interface InvokeOptions {
  /**
   * Argv that runs `binary` where it must run (e.g. `nsenter --net=... -- BINARY`); default: the
   * binary itself. The environment and stdin pass through.
   */
  wrap?: (binary: string) => string[];
  /** Extra environment for the plugin (on top of this process's own). */
  env?: Readonly<Record<string, string>>;
  timeoutMs?: number;
}

/** The JSON error object a plugin prints (SPEC.md "Error"). */
export interface CniErrorBody {
  cniVersion?: string;
  code: number;
  msg: string;
  details?: string;
}

/** A plugin call that failed: what the plugin said, verbatim where it said anything. */
export class CniError extends Error {
  override readonly name = 'CniError';
  constructor(
    readonly plugin: string,
    readonly command: CniCommand,
    /** The plugin's error object, when it printed one. */
    readonly body: CniErrorBody | undefined,
    /** The plugin's stderr (trimmed). */
    readonly stderr: string,
    readonly exitCode: number | null,
    readonly timedOut: boolean,
    summary: string,
  ) {
    super(summary);
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;

export function renderCniArgs(args: PluginInvocation['args']): string {
  return args.map(([k, v]) => `${k}=${v}`).join(';');
}

/** The plugin binary for `type` in the first of `dirs` that has an executable file of that name. */
export async function findPlugin(type: string, dirs: readonly string[]): Promise<string | undefined> {
  for (const d of dirs) {
    const p = join(d, type);
    if (
      await access(p, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return p;
  }
  return undefined;
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

/**
 * Runs one plugin call. Resolves with the parsed stdout (undefined when the plugin printed
 * nothing, as DEL and CHECK do); rejects with a CniError.
 */
export function invokePlugin(
  type: string,
  binary: string,
  conf: unknown,
  call: PluginInvocation,
  opts: InvokeOptions = {},
): Promise<unknown> {
  const argv = opts.wrap ? opts.wrap(binary) : [binary];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...opts.env,
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId,
    CNI_NETNS: call.netns,
    CNI_IFNAME: call.ifName,
    CNI_ARGS: renderCniArgs(call.args),
    CNI_PATH: call.path.join(':'),
  };
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const [file, ...rest] = argv;
    // Its own process group, as every process returnpath starts: a Ctrl-C at the terminal lets the
    // call finish (the run decides what a signal does).
    const child = spawnOwnGroup(file!, rest, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    const fail = (body: CniErrorBody | undefined, stderr: string, code: number | null, why: string): void =>
      reject(
        new CniError(
          type,
          call.command,
          body,
          stderr,
          code,
          timedOut,
          `plugin ${type} ${call.command} (container ${call.containerId}, ${call.ifName}): ${why}` +
            (stderr ? `; stderr: ${lastLines(stderr, 3)}` : ''),
        ),
      );
    child.on('error', (e) => {
      clearTimeout(timer);
      fail(undefined, '', null, `could not start ${argv[0]}: ${e.message}`);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString().trim();
      const stderr = Buffer.concat(err).toString().trim();
      let parsed: unknown;
      let parseError: string | undefined;
      if (stdout) {
        try {
          parsed = JSON.parse(stdout);
        } catch (e) {
          parseError = (e as Error).message;
        }
      }
      if (timedOut) return fail(undefined, stderr, code, `no answer within ${timeoutMs / 1000} s (killed)`);
      if (code !== 0) {
        const body = errorBody(parsed);
        if (body)
          return fail(
            body,
            stderr,
            code,
            `error ${body.code}: ${body.msg}${body.details ? `: ${body.details}` : ''}`,
          );
        return fail(
          undefined,
          stderr,
          code,
          `exited with ${code ?? signal}` +
            (stdout ? ` and printed ${JSON.stringify(stdout.slice(0, 200))}` : ''),
        );
      }
      if (parseError)
        return fail(
          undefined,
          stderr,
          code,
          `printed something that is not JSON (${parseError}): ${stdout.slice(0, 200)}`,
        );
      resolve(parsed);
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(JSON.stringify(conf));
  });
}

function errorBody(v: unknown): CniErrorBody | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o['code'] !== 'number' || typeof o['msg'] !== 'string') return undefined;
  return {
    code: o['code'],
    msg: o['msg'],
    ...(typeof o['details'] === 'string' && o['details'] && { details: o['details'] }),
    ...(typeof o['cniVersion'] === 'string' && { cniVersion: o['cniVersion'] }),
  };
}
