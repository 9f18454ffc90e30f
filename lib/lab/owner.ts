/**
 * Which process owns a lab, in a way PID reuse cannot fool: the PID, the process's start time
 * (field 22 of /proc/PID/stat, clock ticks since boot) and the boot it started in. A PID that is
 * alive but started at another time (or in another boot) is another process: the owner is gone.
 */
import { readFileSync } from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  /** Start time, clock ticks after boot (/proc/PID/stat field 22). */
  startTicks: number;
  /** /proc/sys/kernel/random/boot_id of the boot the process started in. */
  bootId: string;
}

export function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** Field 22 of a /proc/PID/stat line (the command name in field 2 may contain spaces and parens). */
export function startTicksOf(statLine: string): number | undefined {
  const close = statLine.lastIndexOf(')');
  if (close < 0) return undefined;
  // Fields from 3 (state) on, after "pid (comm) ".
  const fields = statLine.slice(close + 2).split(' ');
  const v = Number(fields[22 - 3]);
  return Number.isSafeInteger(v) ? v : undefined;
}

/** The identity of a running process, or undefined when there is no such process. */
export function identityOf(pid: number): ProcessIdentity | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let line: string;
  try {
    line = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const startTicks = startTicksOf(line);
  return startTicks === undefined ? undefined : { pid, startTicks, bootId: bootId() };
}

export function selfIdentity(): ProcessIdentity {
  const id = identityOf(process.pid);
  if (!id) throw new Error(`cannot read /proc/${process.pid}/stat`);
  return id;
}

/** The process that recorded `id` is still running (same PID, same start, same boot). */
export function isRunning(id: ProcessIdentity): boolean {
  const now = identityOf(id.pid);
  return now !== undefined && now.startTicks === id.startTicks && now.bootId === id.bootId;
}
