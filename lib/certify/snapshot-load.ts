/**
 * Builds a NodeSnapshot from what a user has: a snapshot JSON file, a directory of sysctl.d files (an
 * image's /etc/sysctl.d, or an image tree with etc/sysctl.d, run/sysctl.d, usr/lib/sysctl.d ...), a
 * single *.conf file, or a `sysctl -a` dump. Malformed input is a ValidationError naming every file and
 * line at fault; the result is never partial.
 */
import { lstat, readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { NotFoundError, ValidationError, type ValidationProblem } from '../errors.js';
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
  const st = await stat(input).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new NotFoundError(`snapshot input ${input} does not exist`);
    throw e;
  });
  if (st.isDirectory()) return loadSysctlDirectory(input);
  const text = await readFile(input, 'utf8');
  if (text.trimStart().startsWith('{')) return parseSnapshot(text, input);
  if (input.endsWith('.conf')) {
    const dir = imageDirectoryOf(path.resolve(path.dirname(input)));
    const parsed = parseSysctlConf(text, input);
    if (parsed.problems.length > 0) throw new ValidationError(input, parsed.problems);
    const name = path.basename(input);
    return sysctlDSnapshot(input, [fileOf(dir, name, parsed.entries)], []);
  }
  return parseSysctlDump(text, input);
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
  const isTree = (await Promise.all(TREE_MARKERS.map((m) => exists(path.join(dir, m))))).some(Boolean);
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
  return sysctlDSnapshot(dir, read.files, read.notes);
}

export interface SysctlRead {
  files: SysctlFile[];
  problems: ValidationProblem[];
  notes: string[];
}

/**
 * Read the sysctl.d directories and /etc/sysctl.conf below `root` ('/' on a live host). Symlinks are
 * followed inside the tree (absolute targets are taken relative to root); a symlink to /dev/null is
 * recorded as a mask. A directory that is the same as an earlier one (/lib -> usr/lib) is read once.
 */
export async function readSysctlTree(root: string): Promise<SysctlRead> {
  const out: SysctlRead = { files: [], problems: [], notes: [] };
  const seen = new Map<string, string>();
  const realRoot = await realpath(root);
  for (const [rank, dir] of SYSCTL_DIRECTORIES.entries()) {
    const hostDir = path.join(root, dir);
    const real = await realpath(hostDir).catch(() => null);
    if (real === null) continue;
    if (path.relative(realRoot, real).startsWith('..')) {
      out.notes.push(`${dir} leads outside the tree (${real}): not read`);
      continue;
    }
    const dup = seen.get(real);
    if (dup) {
      out.notes.push(`${dir} is the same directory as ${dup}: read once`);
      continue;
    }
    seen.set(real, dir);
    await readConfDirectory(hostDir, dir, rank, root, out);
  }
  const conf = path.join(root, SYSCTL_CONF);
  if (await exists(conf)) {
    const f = await readOne(conf, SYSCTL_CONF, root, out);
    if (f)
      out.files.push({ ...fileOf(path.posix.dirname(SYSCTL_CONF), 'sysctl.conf', f.entries), ...f.link });
  }
  return out;
}

async function readFlatDirectory(dir: string): Promise<SysctlRead> {
  const out: SysctlRead = { files: [], problems: [], notes: [] };
  const imageDir = imageDirectoryOf(path.resolve(dir));
  const rank = rankOf(imageDir);
  if (!SYSCTL_DIRECTORIES.some((d) => path.resolve(dir).endsWith(d)))
    out.notes.push(`${dir} is read as the image's ${imageDir}`);
  await readConfDirectory(dir, imageDir, rank, undefined, out);
  return out;
}

async function readConfDirectory(
  hostDir: string,
  imageDir: string,
  rank: number,
  root: string | undefined,
  out: SysctlRead,
): Promise<void> {
  const names = (await readdir(hostDir)).filter((n) => n.endsWith('.conf')).sort();
  for (const name of names) {
    const f = await readOne(path.join(hostDir, name), `${imageDir}/${name}`, root, out);
    if (f) out.files.push({ ...fileOf(imageDir, name, f.entries, rank), ...f.link });
  }
}

/** Read one file (following a symlink inside the tree). null: skipped, with a note or a problem. */
async function readOne(
  hostPath: string,
  imagePath: string,
  root: string | undefined,
  out: SysctlRead,
): Promise<{ entries: SysctlFile['entries']; link: { symlink?: string } } | null> {
  const l = await lstat(hostPath);
  let target = hostPath;
  let link: { symlink?: string } = {};
  if (l.isSymbolicLink()) {
    const to = await readlink(hostPath);
    link = { symlink: to };
    if (to === '/dev/null') return { entries: [], link };
    if (path.isAbsolute(to)) {
      if (root === undefined) {
        out.notes.push(`${imagePath} -> ${to}: not followed (outside the input); it sets nothing here`);
        return { entries: [], link };
      }
      target = path.join(root, to);
    } else target = path.resolve(path.dirname(hostPath), to);
    const base = root ?? path.dirname(hostPath);
    if (path.relative(path.resolve(base), target).startsWith('..')) {
      out.notes.push(`${imagePath} -> ${to}: not followed (outside the input); it sets nothing here`);
      return { entries: [], link };
    }
    if (!(await exists(target))) {
      out.notes.push(`${imagePath} -> ${to}: dangling symlink, skipped as systemd-sysctl does`);
      return null;
    }
  }
  if (!(await stat(target)).isFile()) {
    out.notes.push(`${imagePath} is not a regular file: skipped`);
    return null;
  }
  const parsed = parseSysctlConf(await readFile(target, 'utf8'), hostPath);
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

function sysctlDSnapshot(source: string, files: SysctlFile[], notes: string[]): NodeSnapshot {
  const ordered = orderSysctlFiles(files);
  const allNotes = [...notes, ...ordered.notes];
  return validateSnapshot(
    {
      schema: SNAPSHOT_SCHEMA_ID,
      source: { kind: 'sysctl.d', path: source },
      kernel: null,
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

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}
