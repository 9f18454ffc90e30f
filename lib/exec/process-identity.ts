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

/** Field 22 of /proc/PID/stat, or undefined when the process does not exist. */
export function processStartTime(pid: number): number | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces or ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]);
  return Number.isFinite(start) ? start : undefined;
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
