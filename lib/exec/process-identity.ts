/**
 * Identifies a process by PID and start time, so that a recorded owner is not mistaken for an
 * unrelated process that later got the same PID (PIDs wrap within minutes on a busy machine).
 */
import { readFileSync } from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot (/proc/PID/stat field 22); 0 when unknown. */
  startTime: number;
}

/** Field 22 of a /proc/PID/stat line (the command name in field 2 may contain spaces and parens). */
function startTicksOf(statLine: string): number | undefined {
  const close = statLine.lastIndexOf(')');
  if (close < 0) return undefined;
  // Fields from 3 (state) on, after "pid (comm) ".
  const fields = statLine.slice(close + 2).split(' ');
  const v = Number(fields[22 - 3]);
  return Number.isSafeInteger(v) ? v : undefined;
}

/** Field 22 of /proc/PID/stat, or undefined when the process does not exist. */
export function processStartTime(pid: number): number | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    return startTicksOf(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

export function selfIdentity(): ProcessIdentity {
  return { pid: process.pid, startTime: processStartTime(process.pid) ?? 0 };
}

/** True while the recorded process runs (same PID and, when recorded, the same start time). */
export function identityAlive(id: ProcessIdentity): boolean {
  const start = processStartTime(id.pid);
  if (start === undefined) return false;
  return id.startTime === 0 || start === id.startTime;
}
