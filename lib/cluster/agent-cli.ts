/**
 * `returnpath-agent`: the entry point of returnpath's agent image, the one program every returnpath
 * pod runs (the lab kubelet runs it directly: `process.execPath bin/returnpath-agent.js ARGS`):
 *
 *   returnpath-agent hold               the pod's main process: says it is ready, then waits for SIGTERM
 *   returnpath-agent serve KIND PORT    a tcp, http or udp server (the traffic servers' answers), until SIGTERM
 *   returnpath-agent worker             the traffic worker (JSON lines on stdin/stdout), started by exec
 *   returnpath-agent probe ARGS         one probe by hand (probe-cli), as reproduce lines print it
 *   returnpath-agent version
 *
 * Evidence commands (cat /proc/net/snmp, iptables-save -c, conntrack, tcpdump) run from the
 * image's own tools; only traffic needs returnpath.
 */
import { hostname } from 'node:os';
import { provenanceRecord } from '../version.js';

export const AGENT_COMMAND = 'returnpath-agent';
export const READY_LINE = 'returnpath-agent: ready';

export const AGENT_USAGE = `usage: ${AGENT_COMMAND} hold | serve tcp|http|udp PORT | worker | probe ARGS | version`;

/** What a command line asks for, or a usage error (exit 2) naming the bad argument. */
export type AgentCommand =
  | { cmd: 'hold' }
  | { cmd: 'serve'; kind: 'tcp' | 'http' | 'udp'; port: number }
  | { cmd: 'worker' }
  | { cmd: 'probe'; args: readonly string[] }
  | { cmd: 'version' }
  | { cmd: 'usage'; error: string };

export function parseAgentArgs(args: readonly string[], serveArgs: ServeArgParser): AgentCommand {
  const [cmd, ...rest] = args;
  const noArgs = (c: 'hold' | 'worker' | 'version'): AgentCommand =>
    rest.length ? { cmd: 'usage', error: `${c} takes no arguments (got ${rest.join(' ')})` } : { cmd: c };
  switch (cmd) {
    case 'hold':
    case 'worker':
    case 'version':
      return noArgs(cmd);
    case 'serve': {
      if (rest.length > 2) return { cmd: 'usage', error: `serve takes KIND PORT (got ${rest.join(' ')})` };
      const p = serveArgs(rest[0], rest[1]);
      return typeof p === 'string' ? { cmd: 'usage', error: `serve: ${p}` } : { cmd: 'serve', ...p };
    }
    case 'probe':
      return { cmd: 'probe', args: rest };
    case undefined:
      return { cmd: 'usage', error: 'missing command' };
    default:
      return { cmd: 'usage', error: `unknown command ${JSON.stringify(cmd)}` };
  }
}

export type ServeArgParser = (
  kind: string | undefined,
  port: string | undefined,
) => { kind: 'tcp' | 'http' | 'udp'; port: number } | string;

/** The server's name in its answers: the pod's name (the lab kubelet sets HOSTNAME, as container runtimes do). */
export function serverName(env: NodeJS.ProcessEnv = process.env): string {
  return env['HOSTNAME'] || hostname();
}

export async function agentMain(args: readonly string[]): Promise<number> {
  const serveCli = await import('../traffic/serve-cli.js');
  const c = parseAgentArgs(args, serveCli.parseServeArgs);
  switch (c.cmd) {
    case 'hold':
      return hold();
    case 'serve':
      return serveCli.serve(serverName(), c.kind, c.port);
    case 'worker':
      // The worker reads its requests until stdin closes, then exits by itself.
      await import('../traffic/worker.js');
      return new Promise<number>(() => undefined);
    case 'probe': {
      const { probeMain } = await import('../traffic/probe-cli.js');
      return probeMain(c.args);
    }
    case 'version': {
      const p = provenanceRecord();
      process.stdout.write(`${AGENT_COMMAND} ${p.version} (${p.commit ?? 'unknown commit'})\n`);
      return 0;
    }
    case 'usage':
      process.stderr.write(`${AGENT_COMMAND}: ${c.error}\n${AGENT_USAGE}\n`);
      return 2;
  }
}

function hold(): Promise<number> {
  return new Promise((resolve) => {
    const keep = setInterval(() => undefined, 1 << 30);
    const stop = (): void => {
      clearInterval(keep);
      resolve(0);
    };
    // Listening before the ready line: a SIGTERM right after it must not find the default action.
    process.once('SIGTERM', stop).once('SIGINT', stop);
    process.stdout.write(`${READY_LINE} (pid ${process.pid})\n`);
  });
}
