/**
 * Which process owns a lab, in a way PID reuse cannot fool: the PID, the process's start time
 * (field 22 of /proc/PID/stat, clock ticks since boot) and the boot it started in. A PID that is
 * alive but started at another time (or in another boot) is another process: the owner is gone.
 */
import { readFileSync } from 'node:fs';
import { processStartTime } from '../exec/process-identity.js';

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

/** The identity of a running process, or undefined when there is no such process. */
export function identityOf(pid: number): ProcessIdentity | undefined {
  const startTicks = processStartTime(pid);
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
