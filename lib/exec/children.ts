/**
 * Every process returnpath starts runs in its own process group (setsid): a Ctrl-C at a terminal
 * signals the whole foreground group, and the workers, agents and commands of the cells in flight
 * must outlive it so those cells can finish and tear down cleanly (lib/cli/run-command.ts decides
 * what a signal does). The ones still running are tracked, so a process that leaves at once (a
 * second Ctrl-C) can stop them first instead of leaving them behind.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const live = new Set<ChildProcess>();

/** spawn() in a new process group, tracked until it exits. */
export function spawnOwnGroup(file: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const child = spawn(file, args, { ...opts, detached: true });
  track(child);
  return child;
}

function track(child: ChildProcess): void {
  if (child.pid === undefined) return;
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
}

/** Stops tracking a child that is meant to outlive this process (a lab left up). */
export function release(child: ChildProcess): void {
  live.delete(child);
}

/** Signals every tracked child that still runs (synchronous: safe right before process.exit). */
export function signalChildren(signal: NodeJS.Signals = 'SIGTERM'): number {
  let n = 0;
  for (const c of live) if (c.exitCode === null && c.signalCode === null && c.kill(signal)) n++;
  return n;
}

export function trackedChildren(): number {
  return live.size;
}
