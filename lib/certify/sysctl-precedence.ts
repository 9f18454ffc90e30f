/**
 * systemd-sysctl's semantics, as pure functions (sysctl.d(5); systemd src/sysctl/sysctl.c):
 *
 * - Directories, in precedence order: /etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d,
 *   /usr/lib/sysctl.d, /lib/sysctl.d. A file masks every same-named file in a later directory; a
 *   symlink to /dev/null masks without setting anything.
 * - The remaining files are read in lexicographic order of their names, whatever their directory.
 *   /etc/sysctl.conf comes last (as `sysctl --system` reads it; systemd-sysctl itself reads it only
 *   through the /etc/sysctl.d/99-sysctl.conf symlink most distributions ship).
 * - Every line is an option keyed by its normalized name. An option for a name seen before replaces it
 *   (and moves to the end) unless the value is the same. `-key = value` ignores write errors; `-key`
 *   with no "=" is a "negative" option: it sets nothing and keeps the key out of every glob.
 * - Options are applied in order. A glob writes every existing key it matches, except keys that have
 *   an option of their own (an assignment or a `-key` exclusion), so an exact option always wins over
 *   a glob, wherever it is; among globs the later one wins.
 * - udev runs `systemd-sysctl --prefix=/net/ipv4/conf/$name` for every new interface, so globs also
 *   reach interfaces created after boot (pod veths).
 */
import path from 'node:path';
import type { ValidationProblem } from '../errors.js';
import type { SysctlEntry, SysctlFile } from './snapshot.js';
import { CONF_KNOBS, KERNEL_DEFAULTS } from './sysctl-defaults.js';

export const SYSCTL_DIRECTORIES = [
  '/etc/sysctl.d',
  '/run/sysctl.d',
  '/usr/local/lib/sysctl.d',
  '/usr/lib/sysctl.d',
  '/lib/sysctl.d',
] as const;
export const SYSCTL_CONF = '/etc/sysctl.conf';
/** Precedence rank of /etc/sysctl.conf: after every sysctl.d directory. */
export const SYSCTL_CONF_PRECEDENCE = SYSCTL_DIRECTORIES.length;

const ALLOWED_LINES =
  'allowed: "key = value", "-key = value" (ignore write errors), "-key" (keep key out of globs), ' +
  'blank lines, comments starting with "#" or ";"';

/** Parse one sysctl.d file. Every malformed line is a problem named `file:line`. */
export function parseSysctlConf(
  text: string,
  file: string,
): { entries: SysctlEntry[]; problems: ValidationProblem[] } {
  const entries: SysctlEntry[] = [];
  const problems: ValidationProblem[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const s = raw.replace(/\r$/, '').trim();
    if (s === '' || s.startsWith('#') || s.startsWith(';')) return;
    const dash = s.startsWith('-');
    const body = dash ? s.slice(1) : s;
    const eq = body.indexOf('=');
    const where = `${file}:${line}`;
    if (eq < 0 && !dash) {
      problems.push({
        path: where,
        value: JSON.stringify(s),
        message: `not an assignment; ${ALLOWED_LINES}`,
      });
      return;
    }
    const key = (eq < 0 ? body : body.slice(0, eq)).trim();
    if (!/^[^\s=]+$/.test(key)) {
      problems.push({
        path: where,
        value: JSON.stringify(s),
        message: `"${key}" is not a sysctl name (a name has no spaces, e.g. net.ipv4.conf.all.rp_filter); ${ALLOWED_LINES}`,
      });
      return;
    }
    entries.push({ key, value: eq < 0 ? null : body.slice(eq + 1).trim(), ignoreErrors: dash, line });
  });
  return { entries, problems };
}

/**
 * systemd's sysctl_normalize: the /proc/sys path below /proc/sys. If the first separator is a dot,
 * dots and slashes swap; if it is a slash, the name is a path already.
 */
export function sysctlPath(key: string): string {
  const first = /[./]/.exec(key);
  const swapped = first && first[0] === '.' ? swapSeparators(key) : key;
  return swapped.replace(/\/+/g, '/').replace(/^\/|\/$/g, '');
}

/** The name `sysctl -a` prints for a /proc/sys path: slashes become dots, dots in a component '/'. */
export function sysctlName(p: string): string {
  return swapSeparators(p);
}

/** Normalize any spelling to the `sysctl -a` name (net.ipv4.conf.eth0/100.rp_filter). */
export function normalizeSysctlKey(key: string): string {
  return sysctlName(sysctlPath(key));
}

function swapSeparators(s: string): string {
  return s.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'));
}

export function isGlob(key: string): boolean {
  return /[*?[]/.test(key);
}

/** glob(7) on /proc/sys paths: '*' and '?' never match '/', [..] and [!..] classes. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export interface OrderedFiles {
  /** Files whose lines are read, in order. */
  applied: SysctlFile[];
  /** Every input file, with overriddenBy set where a same-named file masks it. */
  files: SysctlFile[];
  /** What is not read and why: `path masked by path`, `/etc/sysctl.conf read via ...`. */
  notes: string[];
}

/** Masking by name across directories, then lexicographic order by name, /etc/sysctl.conf last. */
export function orderSysctlFiles(input: readonly SysctlFile[]): OrderedFiles {
  const notes: string[] = [];
  const confs = input.filter((f) => f.precedence < SYSCTL_CONF_PRECEDENCE);
  const winners = new Map<string, SysctlFile>();
  for (const f of confs) {
    const w = winners.get(f.name);
    if (!w || f.precedence < w.precedence) winners.set(f.name, f);
  }
  const files = input.map((f) => {
    const w = f.precedence < SYSCTL_CONF_PRECEDENCE ? winners.get(f.name) : undefined;
    if (w && w !== f) {
      notes.push(
        `${f.path} is masked by ${w.path}${w.symlink === '/dev/null' ? ' (symlink to /dev/null)' : ''}`,
      );
      return { ...f, overriddenBy: w.path };
    }
    const { overriddenBy: _drop, ...rest } = f;
    return rest;
  });
  const applied = [...winners.values()]
    .filter((f) => {
      if (f.symlink !== '/dev/null') return true;
      notes.push(`${f.path} is a symlink to /dev/null: it sets nothing`);
      return false;
    })
    .sort((a, b) => compare(a.name, b.name) || compare(a.path, b.path))
    .map((f) => files[input.indexOf(f)] as SysctlFile);
  const conf = files.find((f) => f.precedence === SYSCTL_CONF_PRECEDENCE);
  if (conf) {
    const via = applied.find((f) => f.symlink && path.posix.resolve(f.directory, f.symlink) === SYSCTL_CONF);
    if (via) notes.push(`${SYSCTL_CONF} is read through the symlink ${via.path}, in that file's place`);
    else applied.push(conf);
  }
  return { applied, files, notes };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface SysctlOption {
  /** /proc/sys path (slash form), may be a glob. */
  path: string;
  /** null: an exclusion (`-key`). */
  value: string | null;
  ignoreErrors: boolean;
  /** `file:line` of the line that set it. */
  from: string;
}

export interface SysctlAssignment {
  value: string;
  /** `file:line`. */
  from: string;
  /** Set when a glob wrote the key: the glob in `sysctl -a` spelling. */
  glob?: string;
}

export interface SysctlResolution {
  /** The options left after every file, in application order. */
  options: SysctlOption[];
  /** Keys the files write: `sysctl -a` name → value and origin. Keys not listed keep their value. */
  effective: Record<string, SysctlAssignment>;
  /** Keys an exclusion keeps out of globs (and whose earlier assignments it dropped): name → file:line. */
  excluded: Record<string, string>;
  /** Applied files, in order. */
  order: string[];
  /** Every input file with overriddenBy set. */
  files: SysctlFile[];
  notes: string[];
}

export interface ResolveOptions {
  /** Keys that exist on the node besides those derived from the interfaces (e.g. a live dump's keys). */
  existingKeys?: Iterable<string>;
}

/**
 * Effective values of sysctl.d files on a node with these interfaces (besides lo): which key each file
 * line sets, with globs expanded over the keys that exist (conf.{all,default,lo,<interfaces>} with the
 * knobs known to the defaults table or named by the files, plus `existingKeys`).
 */
export function resolveSysctlFiles(
  files: readonly SysctlFile[],
  interfaces: readonly string[],
  opts: ResolveOptions = {},
): SysctlResolution {
  const ordered = orderSysctlFiles(files);
  const map = new Map<string, SysctlOption>();
  for (const f of ordered.applied)
    for (const e of f.entries) {
      const p = sysctlPath(e.key);
      const existing = map.get(p);
      const opt: SysctlOption = {
        path: p,
        value: e.value,
        ignoreErrors: e.ignoreErrors,
        from: `${f.path}:${e.line}`,
      };
      if (existing && existing.value === e.value) {
        existing.ignoreErrors ||= e.ignoreErrors;
        continue;
      }
      map.delete(p);
      map.set(p, opt);
    }
  const options = [...map.values()];

  const universe = existingPaths(options, interfaces, opts.existingKeys);
  const effective: Record<string, SysctlAssignment> = {};
  const excluded: Record<string, string> = {};
  for (const o of options) {
    if (o.value === null) {
      if (!isGlob(o.path)) excluded[sysctlName(o.path)] = o.from;
      continue;
    }
    if (!isGlob(o.path)) {
      effective[sysctlName(o.path)] = { value: o.value, from: o.from };
      continue;
    }
    const re = globToRegExp(o.path);
    for (const p of universe)
      if (re.test(p) && !map.has(p))
        effective[sysctlName(p)] = { value: o.value, from: o.from, glob: sysctlName(o.path) };
  }
  return {
    options,
    effective: sortRecord(effective),
    excluded: sortRecord(excluded),
    order: ordered.applied.map((f) => f.path),
    files: ordered.files,
    notes: ordered.notes,
  };
}

/**
 * What the files do to one key, also for keys that did not exist when they were resolved (an interface
 * created later: udev applies the same options with --prefix). undefined: the files leave it alone.
 */
export function lookupSysctl(res: SysctlResolution, key: string): SysctlAssignment | undefined {
  const p = sysctlPath(key);
  const exact = res.options.find((o) => o.path === p);
  if (exact) return exact.value === null ? undefined : { value: exact.value, from: exact.from };
  let hit: SysctlAssignment | undefined;
  for (const o of res.options)
    if (o.value !== null && isGlob(o.path) && globToRegExp(o.path).test(p))
      hit = { value: o.value, from: o.from, glob: sysctlName(o.path) };
  return hit;
}

function existingPaths(
  options: readonly SysctlOption[],
  interfaces: readonly string[],
  extra: Iterable<string> = [],
): string[] {
  const knobs = new Set<string>(CONF_KNOBS);
  for (const d of KERNEL_DEFAULTS) {
    const m = /^net\.ipv4\.conf\.<level>\.(\w+)$/.exec(d.key);
    if (m) knobs.add(m[1] as string);
  }
  const out = new Set<string>();
  for (const o of options) {
    const parts = o.path.split('/');
    const knob = parts[4];
    if (parts[0] === 'net' && parts[1] === 'ipv4' && parts[2] === 'conf' && knob && !isGlob(knob))
      knobs.add(knob);
    if (!isGlob(o.path) && o.value !== null) out.add(o.path);
  }
  for (const level of ['all', 'default', 'lo', ...interfaces])
    for (const k of knobs) out.add(`net/ipv4/conf/${level}/${k}`);
  for (const d of KERNEL_DEFAULTS) if (!d.key.includes('<')) out.add(sysctlPath(d.key));
  for (const k of extra) out.add(sysctlPath(k));
  return [...out].sort();
}

function sortRecord<T>(r: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => compare(a, b)));
}
