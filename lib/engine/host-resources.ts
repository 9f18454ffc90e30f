/**
 * Host resources an engine leaves when it is killed instead of stopped, found by what returnpath
 * owns (never by a process name): processes in its cgroup parent, shims whose command line names
 * its containerd socket, mounts under its directories, and the cgroup directories themselves.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, readlink, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandRunner } from '../exec/command.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';

/** Every cgroup hierarchy mounted under /sys/fs/cgroup (v1 controllers, `unified`, or v2 itself). */
export async function cgroupHierarchies(): Promise<string[]> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  const dirs = new Set<string>();
  for (const line of mounts.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const mountPoint = pre.split(' ')[4];
    const fsType = post.split(' ')[0];
    if ((fsType === 'cgroup' || fsType === 'cgroup2') && mountPoint?.startsWith(CGROUP_ROOT))
      dirs.add(mountPoint);
  }
  return [...dirs].sort();
}

/** Directories named `parent` (absolute cgroup path) in each hierarchy, with everything below them, deepest first. */
export async function cgroupTree(parent: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
    if (!entries) return;
    for (const e of entries) if (e.isDirectory()) await walk(join(dir, e.name));
    out.push(dir);
  };
  for (const h of await cgroupHierarchies()) await walk(join(h, parent));
  return out;
}

/** Pids in a cgroup subtree (any hierarchy). */
export async function pidsInCgroup(parent: string): Promise<number[]> {
  const pids = new Set<number>();
  for (const dir of await cgroupTree(parent)) {
    const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const l of text.split('\n')) if (/^\d+$/.test(l.trim())) pids.add(Number(l));
  }
  return [...pids];
}

/** Removes a cgroup subtree (empty directories only: the kernel refuses one with processes). */
export async function removeCgroupTree(parent: string): Promise<string[]> {
  const left: string[] = [];
  for (const dir of await cgroupTree(parent))
    await rmdir(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') left.push(`${dir}: ${e.code ?? e.message}`);
    });
  return left;
}

/** Pids whose command line contains `needle` as one whole argument. */
export async function pidsWithArgument(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    const args = (await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (args.includes(needle)) pids.push(Number(p));
  }
  return pids;
}

/** The executable of a pid, or undefined when it is gone. */
export async function exeOf(pid: number): Promise<string | undefined> {
  return readlink(`/proc/${pid}/exe`).catch(() => undefined);
}

/** Mount points at or below any of `dirs`, deepest first. */
export async function mountsUnder(dirs: readonly string[]): Promise<string[]> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  const hits = new Set<string>();
  for (const line of mounts.split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const path = mp.replace(/\\040/g, ' ');
    if (dirs.some((d) => path === d || path.startsWith(d.endsWith('/') ? d : `${d}/`))) hits.add(path);
  }
  return [...hits].sort((a, b) => b.length - a.length);
}

/** Unmounts every mount below `dirs` (lazily when busy). */
export async function unmountUnder(runner: CommandRunner, dirs: readonly string[]): Promise<string[]> {
  const done: string[] = [];
  for (const mp of await mountsUnder(dirs)) {
    const r = await runner.run(['umount', mp], { allowFailure: true });
    if (r.code !== 0) await runner.run(['umount', '--lazy', mp], { allowFailure: true });
    done.push(mp);
  }
  return done;
}

export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Where containerd (as root) puts every runc shim's sockets, whatever its own state directory. */
export const SHIM_SOCKET_DIR = '/run/containerd/s';

/**
 * The socket files of the shim whose argv is `args` (containerd's CreateSocketAddress:
 * sha256 of `<containerd address>/<namespace>/<id>`, and `/debug` for the debug socket).
 */
export function shimSockets(args: readonly string[]): string[] {
  const flag = (f: string): string | undefined => {
    const i = args.indexOf(f);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const [ns, id, address] = [flag('-namespace'), flag('-id'), flag('-address')];
  if (!ns || !id || !address) return [];
  const base = `${address.replace(/^unix:\/\//, '')}/${ns}/${id}`;
  return [base, `${base}/debug`].map(
    (p) => `${SHIM_SOCKET_DIR}/${createHash('sha256').update(p).digest('hex')}`,
  );
}

/** argv of a pid ([] when it is gone). */
export async function argvOf(pid: number): Promise<string[]> {
  const text = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return text ? text.replace(/\0$/, '').split('\0') : [];
}

export async function removeFiles(paths: readonly string[]): Promise<void> {
  for (const p of paths) await rm(p, { force: true });
}
