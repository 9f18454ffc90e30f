/**
 * Run bookkeeping for crash safety: a state file per run is written before any namespace is
 * created, so `lab clean` can tell an interrupted run (owner dead) from a live one.
 */
import { mkdir, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../errors.js';
import type { HostKind } from './plan.js';

export const STATE_DIR = process.env['RETURNPATH_STATE_DIR'] ?? '/run/returnpath';
export const NETNS_DIR = '/run/netns';

export interface HostRecord {
  id: string;
  kind: HostKind;
  netns: string;
  address?: string;
  /** Which fabric port leads where, for dumps. */
  legend?: string[];
}

export interface RunState {
  runId: string;
  /** The process that owns the run; 0 for a lab left up on purpose (`lab up`). */
  pid: number;
  topology: string;
  startedAt: string;
  hosts: HostRecord[];
}

function statePath(runId: string): string {
  return join(STATE_DIR, `${runId}.json`);
}

export async function writeRunState(s: RunState): Promise<void> {
  await mkdir(STATE_DIR, { recursive: true });
  await writeFile(statePath(s.runId), JSON.stringify(s, null, 2));
}

export async function readRunState(runId: string): Promise<RunState> {
  try {
    return JSON.parse(await readFile(statePath(runId), 'utf8')) as RunState;
  } catch {
    throw new NotFoundError(`no lab run ${runId} (no state in ${STATE_DIR}); see 'returnpath lab list'`);
  }
}

/**
 * A directory for a run's files (a real CNI's sockets, logs, cached results): removed with the
 * run's state, so `lab down` and `lab clean` sweep it too.
 */
export function runDir(runId: string): string {
  return join(STATE_DIR, runId);
}

export async function removeRunState(runId: string): Promise<void> {
  await rm(runDir(runId), { recursive: true, force: true });
  await rm(statePath(runId), { force: true });
}

export async function listRunStates(): Promise<RunState[]> {
  const files = await readdir(STATE_DIR).catch(() => [] as string[]);
  const states = await Promise.all(
    files
      .filter((f) => /^[0-9a-f]{6}\.json$/.test(f))
      .map((f) => readRunState(f.slice(0, 6)).catch(() => undefined)),
  );
  return states.filter((s): s is RunState => s !== undefined);
}

export function processAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function listNetns(): Promise<string[]> {
  return readdir(NETNS_DIR).catch(() => [] as string[]);
}

/** Pids of every process whose network namespace is `netns` (read from /proc, no subprocess). */
export async function pidsInNetns(netnsNames: readonly string[]): Promise<number[]> {
  const inodes = new Set<string>();
  for (const n of netnsNames) {
    const s = await stat(join(NETNS_DIR, n)).catch(() => undefined);
    if (s) inodes.add(`net:[${s.ino}]`);
  }
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    const link = await readlink(`/proc/${p}/ns/net`).catch(() => '');
    if (inodes.has(link)) pids.push(Number(p));
  }
  return pids;
}
