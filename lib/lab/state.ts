/**
 * Run bookkeeping for crash safety: a state file per run is created (exclusively: a run id in use
 * is refused) before any namespace exists, and records who owns the lab: the process identity
 * (PID, start time, boot) of the builder or owner, so `lab clean` can tell a live owner from a
 * dead one whose PID was reused, and a half-built lab (its `lab up` killed) from one left up.
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { NotFoundError, ValidationError } from '../errors.js';
import { isRunning, type ProcessIdentity } from './owner.js';
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
  /** A namespace the lab attached (a kind node's), not created: detached on teardown, its processes left alone. */
  adopted?: boolean;
}

/**
 * building: `lab up` is creating it (owner: the builder); owned: a process uses it and removes it
 * when done (a run's cell); persistent: left up by a finished `lab up`, removed by `lab down`.
 */
export type LabPhase = 'building' | 'owned' | 'persistent';

export interface RunState {
  runId: string;
  phase?: LabPhase;
  /** The builder or owner; null once persistent. Absent in state files of older versions. */
  owner?: ProcessIdentity | null;
  /** The owner's PID, 0 for a lab left up; kept for readers of the older format (PID only). */
  pid: number;
  topology: string;
  startedAt: string;
  hosts: HostRecord[];
  /** Set as the loopback's alias in every namespace of the lab: proof that it is this lab's. */
  marker?: string;
}

/** Identifies the state directory in namespace markers (labs of another state directory are not ours). */
export function stateDirTag(dir = STATE_DIR): string {
  return createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 12);
}

/** The marker every namespace of run `runId` carries on its loopback interface (ifalias). */
export function labMarker(runId: string, dir = STATE_DIR): string {
  return `returnpath run=${runId} state=${stateDirTag(dir)}`;
}

/**
 * The marker of a namespace run `runId` adopted (a kind node's): `lab clean` detaches such a
 * namespace and never kills what runs inside it.
 */
export function adoptedMarker(runId: string, dir = STATE_DIR): string {
  return `${labMarker(runId, dir)} adopted`;
}

function statePath(runId: string): string {
  return join(STATE_DIR, `${runId}.json`);
}

/** A run id that is taken: refused (exit 2), the running lab left untouched. */
export class RunIdInUse extends ValidationError {
  constructor(runId: string, why: string) {
    super(`run id ${runId}`, [
      { path: '--run-id', value: runId, message: `is in use: ${why}; choose another run id` },
    ]);
    this.message = `run id ${runId} is in use: ${why}; choose another run id (or remove that lab: returnpath lab down ${runId})`;
  }
}

/** Creates the state of a new run; refuses (RunIdInUse) when the run id has a state already. */
export async function createRunState(s: RunState): Promise<void> {
  await mkdir(STATE_DIR, { recursive: true });
  // Written whole to a temporary file, then linked into place: exclusive (link fails when the name
  // exists) and never seen half-written.
  const tmp = tempPath(s.runId);
  await writeFile(tmp, JSON.stringify(s, null, 2));
  try {
    await link(tmp, statePath(s.runId));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new RunIdInUse(s.runId, `lab ${s.runId} exists (${statePath(s.runId)})`);
    throw e;
  } finally {
    await rm(tmp, { force: true });
  }
}

function tempPath(runId: string): string {
  return join(STATE_DIR, `.${runId}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`);
}

/** Replaces the state of a run atomically (a reader never sees half a file). */
export async function writeRunState(s: RunState): Promise<void> {
  await mkdir(STATE_DIR, { recursive: true });
  const tmp = tempPath(s.runId);
  await writeFile(tmp, JSON.stringify(s, null, 2));
  await rename(tmp, statePath(s.runId));
}

export async function readRunState(runId: string): Promise<RunState> {
  let text: string;
  try {
    text = await readFile(statePath(runId), 'utf8');
  } catch {
    throw new NotFoundError(`no lab run ${runId} (no state in ${STATE_DIR}); see 'returnpath lab list'`);
  }
  try {
    return JSON.parse(text) as RunState;
  } catch {
    throw new NotFoundError(`lab run ${runId}: its state file ${statePath(runId)} is unreadable`);
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

/** Who holds a lab and whether it may be removed. */
export interface RunStatus {
  /** in-use: its owner or builder runs; interrupted: the owner is gone; half-built: `lab up` died while building; left-up: a finished `lab up`. */
  kind: 'in-use' | 'interrupted' | 'half-built' | 'left-up';
  /** For humans: `owned by pid 123`, `lab up (pid 99) died while building it`, ... */
  why: string;
}

export function runStatus(s: RunState): RunStatus {
  if (s.phase === 'persistent') return { kind: 'left-up', why: "left up by 'lab up'" };
  if (s.phase && s.owner) {
    const who = `pid ${s.owner.pid}`;
    if (isRunning(s.owner))
      return {
        kind: 'in-use',
        why: s.phase === 'building' ? `being built by ${who} (lab up)` : `owned by ${who}, still running`,
      };
    return s.phase === 'building'
      ? { kind: 'half-built', why: `its lab up (${who}) ended before the lab was complete` }
      : { kind: 'interrupted', why: `its owner (${who}) is gone` };
  }
  // A state file of an older version: the PID alone (0 for a lab left up, or one half built).
  if (s.pid === 0) return { kind: 'left-up', why: "left up by 'lab up' (older state file: PID only)" };
  return processAlive(s.pid)
    ? { kind: 'in-use', why: `owned by pid ${s.pid} (older state file: PID only, start time unknown)` }
    : { kind: 'interrupted', why: `its owner (pid ${s.pid}) is gone` };
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
