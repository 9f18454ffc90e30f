/**
 * An exclusive lock on a file that cannot go stale: it is an flock(2) held by a child process
 * (`flock FILE cat`) whose stdin is a pipe from this process. Releasing closes the pipe; if this
 * process dies, the kernel closes it too, `cat` exits and the lock is gone. Nothing to break by
 * hand after a crash; `sweepLockFiles` removes the empty files left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { EnvironmentError } from '../errors.js';

export interface FileLock {
  readonly path: string;
  release(): Promise<void>;
}

export interface LockOptions {
  /** Called once when another process holds the lock and this one starts waiting. */
  onWait?: (holder: string) => void;
}

const OWNER_SUFFIX = '.owner';

/** Takes the lock at `path` (created if needed), waiting while another process holds it. */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<FileLock> {
  await mkdir(dirname(path), { recursive: true });
  let child = await tryHold(path, true);
  if (!child) {
    const holder = await readFile(path + OWNER_SUFFIX, 'utf8').catch(() => 'another process');
    opts.onWait?.(holder.trim());
    child = await tryHold(path, false);
  }
  if (!child) throw new Error(`lock ${path}: could not be taken`);
  return held(path, child);
}

/** Takes the lock at `path` only if nobody holds it. */
export async function tryAcquireLock(path: string): Promise<FileLock | undefined> {
  await mkdir(dirname(path), { recursive: true });
  const child = await tryHold(path, true);
  return child && held(path, child);
}

async function held(path: string, child: ChildProcess): Promise<FileLock> {
  await writeFile(path + OWNER_SUFFIX, `pid ${process.pid}\n`).catch(() => undefined);
  let released: Promise<void> | undefined;
  return {
    path,
    release: () => {
      released ??= rm(path + OWNER_SUFFIX, { force: true }).then(
        () =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.stdin?.end();
          }),
      );
      return released;
    },
  };
}

/**
 * Starts `flock [-n] FILE cat` and resolves with the child once the lock is held (cat echoes a
 * line written to it), or undefined when `nonBlocking` and someone else holds it.
 */
function tryHold(path: string, nonBlocking: boolean): Promise<ChildProcess | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'flock',
      [...(nonBlocking ? ['--nonblock', '--conflict-exit-code', '75'] : []), path, 'cat'],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let err = '';
    let settled = false;
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.once('data', () => {
      settled = true;
      child.stdout.destroy();
      resolve(child);
    });
    child.on('error', (e) => {
      settled = true;
      reject(
        (e as NodeJS.ErrnoException).code === 'ENOENT'
          ? new EnvironmentError('flock (util-linux) is not installed: apt-get install util-linux')
          : e,
      );
    });
    child.on('exit', (code) => {
      if (settled) return;
      settled = true;
      if (code === 75) resolve(undefined);
      else reject(new Error(`flock ${path} exited with ${code}: ${err.trim()}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.write('held\n');
  });
}

/** Removes lock files under `dir` that nobody holds; returns their paths. */
export async function sweepLockFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const n of names.filter((f) => f.endsWith('.lock'))) {
    const path = join(dir, n);
    const child = await tryHold(path, true).catch(() => undefined);
    if (!child) continue;
    await rm(path, { force: true });
    await rm(path + OWNER_SUFFIX, { force: true });
    child.stdin?.end();
    removed.push(path);
  }
  return removed;
}
