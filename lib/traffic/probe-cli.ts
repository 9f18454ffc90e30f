/**
 * Redo probe attempts by hand, from inside a host:
 *
 *   ip netns exec NS node dist/lib/traffic/probe-cli.js tcp 10.0.1.5 80 --deadline 300
 *
 * Prints one line per attempt (outcome, errno, source, what the server saw, timings), or the
 * whole batch as JSON with --json. Exit code: 0 when every attempt connected, 1 otherwise, 2 on bad usage.
 */
import { parseArgs } from 'node:util';
import { runProbe } from './client.js';
import type { Attempt, ProbeKind, ProbeSpec } from './protocol.js';
import { isEntryPoint } from '../exec/entry.js';

const USAGE = `usage: probe-cli tcp|http|udp HOST PORT [--deadline MS] [--answer MS] [--attempts N]
       [--concurrency N] [--local-address IP] [--local-port P | --local-ports LO-HI] [--hold MS]
       [--close fin|rst] [--json]`;

class UsageError extends Error {}

function int(
  label: string,
  v: string | undefined,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) {
    throw new UsageError(`${label}: expected an integer in [${min}, ${max}], got ${v}`);
  }
  return n;
}

export function parseProbeArgs(args: readonly string[]): { spec: ProbeSpec; json: boolean } {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      deadline: { type: 'string' },
      answer: { type: 'string' },
      attempts: { type: 'string' },
      concurrency: { type: 'string' },
      'local-address': { type: 'string' },
      'local-port': { type: 'string' },
      'local-ports': { type: 'string' },
      hold: { type: 'string' },
      close: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [kind, host, port] = positionals;
  if (positionals.length !== 3 || !kind || !host || !port) throw new UsageError('expected KIND HOST PORT');
  if (!['tcp', 'http', 'udp'].includes(kind))
    throw new UsageError(`KIND: expected tcp, http or udp, got ${kind}`);
  if (values.close !== undefined && values.close !== 'fin' && values.close !== 'rst') {
    throw new UsageError(`--close: expected fin or rst, got ${values.close}`);
  }
  const spec: ProbeSpec = { kind: kind as ProbeKind, host, port: int('PORT', port, 1, 65535) as number };
  const set = <K extends keyof ProbeSpec>(k: K, v: ProbeSpec[K] | undefined): void => {
    if (v !== undefined) spec[k] = v;
  };
  set('deadlineMs', int('--deadline', values.deadline, 1));
  set('answerMs', int('--answer', values.answer, 1));
  set('attempts', int('--attempts', values.attempts, 1));
  set('concurrency', int('--concurrency', values.concurrency, 1));
  set('localAddress', values['local-address']);
  set('localPort', int('--local-port', values['local-port'], 1, 65535));
  set('holdMs', int('--hold', values.hold));
  set('close', values.close as ProbeSpec['close']);
  if (values['local-ports'] !== undefined) {
    const m = /^(\d+)-(\d+)$/.exec(values['local-ports']);
    if (!m || Number(m[1]) > Number(m[2]))
      throw new UsageError(`--local-ports: expected LO-HI, got ${values['local-ports']}`);
    set('localPortRange', [
      int('--local-ports', m[1], 1, 65535) as number,
      int('--local-ports', m[2], 1, 65535) as number,
    ]);
  }
  return { spec, json: values.json ?? false };
}

export function formatAttempt(a: Attempt): string {
  const parts = [`#${a.i}`, a.outcome, `phase=${a.phase}`];
  if (a.errno) parts.push(`errno=${a.errno}`);
  if (a.localAddress || a.localPort) parts.push(`src=${a.localAddress ?? '*'}:${a.localPort ?? '*'}`);
  if (a.server) parts.push(`server=${a.server}`);
  if (a.peer) parts.push(`server-saw=${a.peer}`);
  if (a.status !== undefined) parts.push(`status=${a.status}`);
  if (a.held) parts.push(`held=${a.held}`);
  if (a.connectMs !== undefined) parts.push(`connect=${a.connectMs}ms`);
  parts.push(`total=${a.ms}ms`);
  return parts.join(' ');
}

/** `probe-cli ARGS` (also `returnpath-agent probe ARGS`): exit 0 when every attempt connected. */
export async function probeMain(args: readonly string[]): Promise<number> {
  let parsed: { spec: ProbeSpec; json: boolean };
  try {
    parsed = parseProbeArgs(args);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const batch = await runProbe(parsed.spec);
  if (parsed.json) process.stdout.write(JSON.stringify(batch) + '\n');
  else for (const a of batch.attempts) process.stdout.write(formatAttempt(a) + '\n');
  return batch.attempts.every((a) => a.outcome === 'connected') ? 0 : 1;
}

if (isEntryPoint(import.meta.url)) {
  void probeMain(process.argv.slice(2)).then((code) => process.exit(code));
}
