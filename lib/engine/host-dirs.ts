/**
 * Directories on the host that an engine or kind needs and creates when absent: containerd's shim
 * socket directory (/run/containerd/s, fixed in containerd's code), dockerd's plugin socket
 * directory (/run/docker/plugins), containerd's opt directory (/opt/containerd) and the
 * /lib/modules kind bind-mounts into every node. returnpath makes the missing ones itself, notes
 * which (in its persistent data directory, so a reboot does not forget), and removes them again,
 * only when empty, once no engine of returnpath's runs any more. It never removes a directory it
 * did not make.
 */
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { acquireLock } from '../exec/file-lock.js';
import { dataRoot } from './paths.js';

/** What a private engine creates on the host when it is absent, with the mode it would give it. */
export const ENGINE_HOST_DIRS: readonly { path: string; mode: number }[] = [
  { path: '/run/containerd/s', mode: 0o700 },
  { path: '/run/docker/plugins', mode: 0o700 },
  { path: '/opt/containerd/bin', mode: 0o711 },
  { path: '/opt/containerd/lib', mode: 0o711 },
];

/** kind bind-mounts it into every node (empty on machines without loadable modules). */
export const LIB_MODULES = { path: '/lib/modules', mode: 0o755 };

function markerPath(): string {
  return join(dataRoot(), 'host-dirs.json');
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

async function readMarker(): Promise<string[]> {
  return readFile(markerPath(), 'utf8')
    .then((t) => JSON.parse(t) as string[])
    .catch(() => []);
}

async function withHostLock<T>(fn: () => Promise<T>): Promise<T> {
  await mkdir(dataRoot(), { recursive: true });
  const lock = await acquireLock(join(dataRoot(), '.host-dirs.lock'));
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/** Creates the missing directories (and missing parents), recording each one created. */
export function claimHostDirs(dirs: readonly { path: string; mode: number }[]): Promise<string[]> {
  return withHostLock(async () => {
    const made = await readMarker();
    const created: string[] = [];
    for (const d of dirs) {
      const missing: string[] = [];
      for (let p = d.path; p !== '/' && !(await exists(p)); p = dirname(p)) missing.unshift(p);
      for (const p of missing) {
        await mkdir(p, { mode: d.mode });
        created.push(p);
      }
    }
    if (created.length) await writeFile(markerPath(), JSON.stringify([...made, ...created], null, 2) + '\n');
    return created;
  });
}

/**
 * Removes the directories returnpath made, deepest first and only when empty, unless
 * `stillNeeded` (another engine of returnpath's still runs). Returns what it removed.
 */
export function releaseHostDirs(stillNeeded: () => Promise<boolean>): Promise<string[]> {
  return withHostLock(async () => {
    const made = await readMarker();
    if (made.length === 0 || (await stillNeeded())) return [];
    const removed: string[] = [];
    const kept: string[] = [];
    for (const p of [...made].sort((a, b) => b.length - a.length)) {
      const r = await rmdir(p).then(
        () => 'removed',
        (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? 'gone' : 'kept'),
      );
      if (r === 'removed') removed.push(p);
      if (r === 'kept') kept.push(p);
    }
    await writeFile(markerPath(), JSON.stringify(kept, null, 2) + '\n');
    return removed;
  });
}
