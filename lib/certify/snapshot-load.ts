/**
 * Builds a NodeSnapshot from what a user has: a snapshot JSON file, a directory of sysctl.d files (an
 * image's /etc/sysctl.d, or an image tree with etc/sysctl.d, run/sysctl.d, usr/lib/sysctl.d ...), a
 * single *.conf file, or a `sysctl -a` dump. Malformed input is a ValidationError naming every file and
 * line at fault; the result is never partial.
 */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError, type ValidationProblem } from '../errors.js';
import { inputStat, looksBinary, readTextInput } from '../files.js';
import {
  parseSnapshot,
  SNAPSHOT_SCHEMA_ID,
  validateSnapshot,
  type NodeSnapshot,
  type SysctlFile,
} from './snapshot.js';
import {
  orderSysctlFiles,
  parseSysctlConf,
  SYSCTL_CONF,
  SYSCTL_CONF_PRECEDENCE,
  SYSCTL_DIRECTORIES,
} from './sysctl-precedence.js';

/** Load any supported input as a validated snapshot. */
export async function loadSnapshot(input: string): Promise<NodeSnapshot> {
  const what =
    'snapshot (a snapshot JSON file, a sysctl.d directory or image tree, a *.conf file or a `sysctl -a` dump)';
  const st = await inputStat(input, what, { allowDirectory: true });
  if (st.isDirectory()) return loadSysctlDirectory(input);
  const text = await readTextInput(input, what);
  if (text.trimStart().startsWith('{')) return parseSnapshot(text, input);
  if (input.endsWith('.conf')) {
    const dir = imageDirectoryOf(path.resolve(path.dirname(input)));
    const parsed = sysctlConfOrNot(text, input);
    if (parsed.problems.length > 0) throw new ValidationError(input, parsed.problems);
    const name = path.basename(input);
    return sysctlDSnapshot(input, [fileOf(dir, name, parsed.entries)], []);
  }
  return parseSysctlDump(text, input);
}

/**
 * Problems quote the lines at fault only in a file that has sysctl lines: the contents of a file
 * that is not a sysctl file at all (a link to /etc/passwd, a log) are never shown.
 */
function notSysctl(
  source: string,
  lines: number,
  problems: readonly ValidationProblem[],
  good: number,
): ValidationProblem[] {
  if (problems.length === 0 || good > 0) return [...problems];
  return [
    {
      path: source,
      value: `(${lines} lines; contents not shown)`,
      message: 'is not a sysctl file: no line is a "key = value" assignment',
    },
  ];
}

function sysctlConfOrNot(text: string, source: string): ReturnType<typeof parseSysctlConf> {
  const parsed = parseSysctlConf(text, source);
  return {
    entries: parsed.entries,
    problems: notSysctl(source, text.split('\n').length, parsed.problems, parsed.entries.length),
  };
}

/**
 * A `sysctl -a` dump: `key = value` lines (blank lines and #/; comments allowed). net.ipv4 keys are
 * kept; the others are counted in sysctlsIgnored.
 */
export function parseSysctlDump(text: string, source = 'sysctl dump'): NodeSnapshot {
  const problems: ValidationProblem[] = [];
  const sysctls: Record<string, string> = {};
  let ignored = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    const s = line.trim();
    if (s === '' || s.startsWith('#') || s.startsWith(';')) return;
    const where = `${source}:${i + 1}`;
    const m = /^([^\s=]+)\s*=\s?(.*)$/.exec(s);
    if (!m) {
      const hint = s.startsWith('sysctl:')
        ? ' (a diagnostic from sysctl: dump with `sysctl -a 2>/dev/null`)'
        : '';
      problems.push({
        path: where,
        value: JSON.stringify(s),
        message: `not a "key = value" line as \`sysctl -a\` prints them${hint}`,
      });
      return;
    }
    const key = m[1] as string;
    const value = (m[2] as string).trim();
    if (!key.startsWith('net.ipv4.')) {
      ignored++;
      return;
    }
    if (key in sysctls && sysctls[key] !== value) {
      problems.push({
        path: where,
        value: JSON.stringify(s),
        message: `${key} appears twice with different values (${sysctls[key]} and ${value}); a dump has each key once`,
      });
      return;
    }
    sysctls[key] = value;
  });
  const lineCount = text.split('\n').length;
  const kept = notSysctl(source, lineCount, problems, Object.keys(sysctls).length + ignored);
  problems.splice(0, problems.length, ...kept);
  if (problems.length === 0 && Object.keys(sysctls).length === 0)
    problems.push({
      path: source,
      value: '(file)',
      message:
        'no net.ipv4.* keys: expected a `sysctl -a` dump, a snapshot JSON file, a *.conf file or a sysctl.d directory',
    });
  if (problems.length > 0) throw new ValidationError(source, problems);
  return validateSnapshot(
    {
      schema: SNAPSHOT_SCHEMA_ID,
      source: { kind: 'sysctl-dump', path: source },
      kernel: null,
      sysctls: Object.fromEntries(Object.entries(sysctls).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      sysctlsIgnored: ignored,
      sysctlFiles: [],
      ipRules: null,
      routes: null,
      iptables: null,
      interfaces: [],
      networkManagers: [],
    },
    source,
  );
}

const TREE_MARKERS = [...SYSCTL_DIRECTORIES, SYSCTL_CONF].map((p) => p.slice(1));

/** A directory: an image tree (etc/sysctl.d, usr/lib/sysctl.d, ...) or one sysctl.d directory. */
export async function loadSysctlDirectory(dir: string): Promise<NodeSnapshot> {
  const tree = { root: path.resolve(dir), absolute: 'root' as const };
  const isTree = (await Promise.all(TREE_MARKERS.map((m) => resolveInTree(tree, m)))).some(
    (r) => 'path' in r,
  );
  const read = isTree ? await readSysctlTree(dir) : await readFlatDirectory(dir);
  if (read.problems.length > 0) throw new ValidationError(dir, read.problems);
  if (!isTree && read.files.length === 0)
    throw new ValidationError(dir, [
      {
        path: dir,
        value: '(directory)',
        message:
          'no *.conf files and no image tree: expected sysctl.d files, or a tree with etc/sysctl.d, run/sysctl.d, ' +
          'usr/local/lib/sysctl.d, usr/lib/sysctl.d, lib/sysctl.d or etc/sysctl.conf',
      },
    ]);
  const kernel = isTree ? await treeKernel(tree, read.notes) : null;
  return sysctlDSnapshot(dir, read.files, read.notes, kernel);
}

/**
 * The kernel an image tree ships: the one directory of usr/lib/modules (or lib/modules). Several:
 * not recorded (a note says which), none: null.
 */
async function treeKernel(tree: Tree, notes: string[]): Promise<string | null> {
  const found = new Set<string>();
  for (const rel of ['usr/lib/modules', 'lib/modules']) {
    const r = await resolveInTree(tree, rel);
    if (!('path' in r)) continue;
    const entries = await readdir(r.path, { withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isDirectory() && /^\d+\.\d+[\w.+~-]*$/.test(e.name)) found.add(e.name);
  }
  if (found.size === 1) return [...found][0]!;
  if (found.size > 1)
    notes.push(`the tree has several kernels (${[...found].sort().join(', ')}): kernel not recorded`);
  return null;
}

export interface SysctlRead {
  files: SysctlFile[];
  problems: ValidationProblem[];
  notes: string[];
}

/**
 * Read the sysctl.d directories and /etc/sysctl.conf below `root` ('/' on a live host). Every
 * symbolic link, in any part of a path, is followed inside the tree only, as a chroot at root would
 * (absolute targets start at root); a link that leaves the tree is reported and not followed, so
 * nothing outside the tree is ever read. A symlink to /dev/null is recorded as a mask. A directory
 * that is the same as an earlier one (/lib -> usr/lib) is read once.
 */
export async function readSysctlTree(root: string): Promise<SysctlRead> {
  const out: SysctlRead = { files: [], problems: [], notes: [] };
  const seen = new Map<string, string>();
  const tree = { root: path.resolve(root), absolute: 'root' as const };
  for (const [rank, dir] of SYSCTL_DIRECTORIES.entries()) {
    const r = await resolveInTree(tree, dir);
    if ('missing' in r) continue;
    if ('outside' in r) {
      out.notes.push(`${dir} leads outside the tree (${r.outside}): not read`);
      continue;
    }
    if (!(await lstat(r.path)).isDirectory()) continue;
    const dup = seen.get(r.path);
    if (dup) {
      out.notes.push(`${dir} is the same directory as ${dup}: read once`);
      continue;
    }
    seen.set(r.path, dir);
    await readConfDirectory(tree, dir, dir, rank, out);
  }
  const f = await readOne(tree, SYSCTL_CONF, SYSCTL_CONF, out);
  if (f) out.files.push({ ...fileOf(path.posix.dirname(SYSCTL_CONF), 'sysctl.conf', f.entries), ...f.link });
  return out;
}

async function readFlatDirectory(dir: string): Promise<SysctlRead> {
  const out: SysctlRead = { files: [], problems: [], notes: [] };
  const imageDir = imageDirectoryOf(path.resolve(dir));
  const rank = rankOf(imageDir);
  if (!SYSCTL_DIRECTORIES.some((d) => path.resolve(dir).endsWith(d)))
    out.notes.push(`${dir} is read as the image's ${imageDir}`);
  await readConfDirectory({ root: path.resolve(dir), absolute: 'outside' }, '', imageDir, rank, out);
  return out;
}

async function readConfDirectory(
  tree: Tree,
  rel: string,
  imageDir: string,
  rank: number,
  out: SysctlRead,
): Promise<void> {
  const host = await resolveInTree(tree, rel);
  if (!('path' in host)) return;
  const names = (await readdir(host.path)).filter((n) => n.endsWith('.conf')).sort();
  for (const name of names) {
    const f = await readOne(tree, path.posix.join(rel, name), `${imageDir}/${name}`, out);
    if (f) out.files.push({ ...fileOf(imageDir, name, f.entries, rank), ...f.link });
  }
}

/** Where a path inside the input is read from. `absolute`: how absolute link targets are taken. */
interface Tree {
  root: string;
  /** `root`: from the tree's root (an image tree); `outside`: they leave the input (a flat directory). */
  absolute: 'root' | 'outside';
}

type Resolved = { path: string } | { outside: string } | { missing: string };

/**
 * Resolves `rel` below `tree.root` component by component, following symbolic links as a chroot
 * would, without ever touching anything outside the tree: `outside` names the link (or `..`)
 * that would leave it.
 */
export async function resolveInTree(tree: Tree, rel: string): Promise<Resolved> {
  const parts: string[] = [];
  let queue = rel.split('/').filter((c) => c !== '' && c !== '.');
  let hops = 0;
  let lastLink: string | undefined;
  while (queue.length > 0) {
    const c = queue.shift()!;
    const here = `/${parts.join('/')}`;
    if (c === '..') {
      if (parts.length === 0) return { outside: lastLink ?? `${rel}: .. leaves the tree` };
      parts.pop();
      continue;
    }
    const host = path.join(tree.root, ...parts, c);
    const l = await lstat(host).catch(() => undefined);
    if (!l) return { missing: path.posix.join(here, c) };
    if (!l.isSymbolicLink()) {
      parts.push(c);
      continue;
    }
    if (++hops > 40) return { outside: `${path.posix.join(here, c)}: too many levels of symbolic links` };
    const to = await readlink(host);
    lastLink = `${path.posix.join(here, c)} -> ${to}`;
    if (path.isAbsolute(to)) {
      if (tree.absolute === 'outside') return { outside: lastLink };
      parts.length = 0;
    }
    queue = [...to.split('/').filter((x) => x !== '' && x !== '.'), ...queue];
  }
  return { path: path.join(tree.root, ...parts) };
}

/** Read one file (following symlinks inside the tree only). null: skipped, with a note or a problem. */
async function readOne(
  tree: Tree,
  rel: string,
  imagePath: string,
  out: SysctlRead,
): Promise<{ entries: SysctlFile['entries']; link: { symlink?: string } } | null> {
  const first = path.join(tree.root, rel);
  const l = await lstat(first).catch(() => undefined);
  if (!l) return null;
  let link: { symlink?: string } = {};
  if (l.isSymbolicLink()) {
    const to = await readlink(first);
    link = { symlink: to };
    if (to === '/dev/null') return { entries: [], link };
  }
  const r = await resolveInTree(tree, rel);
  if ('outside' in r) {
    out.notes.push(
      `${imagePath}: a link leads outside the input (${r.outside}): not followed; it sets nothing here`,
    );
    return { entries: [], link };
  }
  if ('missing' in r) {
    out.notes.push(
      `${imagePath}${link.symlink ? ` -> ${link.symlink}` : ''}: dangling symlink (${r.missing} does not exist), skipped as systemd-sysctl does`,
    );
    return null;
  }
  const st = await lstat(r.path);
  if (!st.isFile()) {
    out.notes.push(
      `${imagePath} is ${st.isDirectory() ? 'a directory' : 'not a regular file (a device, pipe or socket)'}: skipped`,
    );
    return null;
  }
  const buf = await readFile(r.path);
  if (looksBinary(buf)) {
    out.problems.push({
      path: first,
      value: `(${buf.length} bytes; contents not shown)`,
      message: 'is not a text file (binary content); a sysctl.d file has "key = value" lines',
    });
    return null;
  }
  const parsed = sysctlConfOrNot(buf.toString('utf8'), first);
  out.problems.push(...parsed.problems);
  return { entries: parsed.entries, link };
}

function fileOf(
  directory: string,
  name: string,
  entries: SysctlFile['entries'],
  rank = rankOf(directory),
): SysctlFile {
  const p = directory === '/etc' && name === 'sysctl.conf' ? SYSCTL_CONF : `${directory}/${name}`;
  return { path: p, directory, name, precedence: p === SYSCTL_CONF ? SYSCTL_CONF_PRECEDENCE : rank, entries };
}

function rankOf(imageDir: string): number {
  const i = (SYSCTL_DIRECTORIES as readonly string[]).indexOf(imageDir);
  return i < 0 ? 0 : i;
}

/** The image directory a host directory stands for: a known suffix, else /etc/sysctl.d. */
function imageDirectoryOf(hostDir: string): string {
  return SYSCTL_DIRECTORIES.find((d) => hostDir.endsWith(d)) ?? SYSCTL_DIRECTORIES[0];
}

function sysctlDSnapshot(
  source: string,
  files: SysctlFile[],
  notes: string[],
  kernel: string | null = null,
): NodeSnapshot {
  const ordered = orderSysctlFiles(files);
  const allNotes = [...notes, ...ordered.notes];
  return validateSnapshot(
    {
      schema: SNAPSHOT_SCHEMA_ID,
      source: { kind: 'sysctl.d', path: source },
      kernel,
      sysctls: {},
      sysctlFiles: ordered.files,
      ipRules: null,
      routes: null,
      iptables: null,
      interfaces: [],
      networkManagers: [],
      ...(allNotes.length > 0 ? { notes: allNotes } : {}),
    },
    source,
  );
}
