/**
 * The per-user component cache: `<cache>/components/<name>/<version>-<recipe hash>/` holding the
 * built files and manifest.json. Builds run under a lock per key (two runs never build the same
 * thing at once; the second waits and then finds it built), into a temporary directory that is
 * renamed into place only when complete, so a crash never leaves a half-built component behind.
 */
import { createHash } from 'node:crypto';
import { access, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { spawn } from 'node:child_process';
import { CommandError, EnvironmentError } from '../errors.js';
import type { CommandResult } from '../exec/command.js';
import { acquireLock, sweepLockFiles, tryAcquireLock } from '../exec/file-lock.js';
import type { BuildContext, Component, ComponentManifest } from './component.js';
import { DebianPackageComponent } from './debian-package.js';

/** Bump when a recipe's steps change in a way its data does not show. */
export const RECIPE_REVISION = 1;

export function cacheRoot(): string {
  const explicit = process.env['RETURNPATH_CACHE_DIR'];
  if (explicit) return explicit;
  const xdg = process.env['XDG_CACHE_HOME'];
  return join(xdg || join(homedir(), '.cache'), 'returnpath');
}

const componentsDir = (): string => join(cacheRoot(), 'components');
const locksDir = (): string => join(componentsDir(), '.locks');

export interface BuiltComponent {
  name: string;
  version: string;
  dir: string;
  manifest: ComponentManifest;
  /** Absolute path of one of the component's files. */
  path(file: string): string;
}

export async function cacheKey(c: Component): Promise<{ version: string; hash: string; dir: string }> {
  const version = await c.version();
  const hash = createHash('sha256')
    .update(`${RECIPE_REVISION}\0${c.name}\0${version}\0${await c.recipe()}`)
    .digest('hex')
    .slice(0, 12);
  const dir =
    c instanceof DebianPackageComponent ? c.systemDir : join(componentsDir(), c.name, `${version}-${hash}`);
  return { version, hash, dir };
}

function built(c: Component, version: string, dir: string, manifest: ComponentManifest): BuiltComponent {
  return { name: c.name, version, dir, manifest, path: (f) => join(dir, f) };
}

/** The built component, or undefined when it is not in the cache (or incomplete). */
export async function findBuilt(c: Component): Promise<BuiltComponent | undefined> {
  const { version, hash, dir } = await cacheKey(c);
  if (c instanceof DebianPackageComponent) {
    const ok = await c.build().then(
      () => true,
      () => false,
    );
    if (!ok) return undefined;
    return built(c, version, dir, {
      name: c.name,
      version,
      recipeHash: hash,
      files: [...c.files],
      builtAt: '',
      buildSeconds: 0,
    });
  }
  const manifest = await readFile(join(dir, 'manifest.json'), 'utf8')
    .then((t) => JSON.parse(t) as ComponentManifest)
    .catch(() => undefined);
  if (!manifest) return undefined;
  for (const f of c.files)
    if (
      !(await access(join(dir, f)).then(
        () => true,
        () => false,
      ))
    )
      return undefined;
  return built(c, version, dir, manifest);
}

/** The built component, or an EnvironmentError (exit 3) saying how to build it. */
export async function requireBuilt(c: Component): Promise<BuiltComponent> {
  const b = await findBuilt(c);
  if (b) return b;
  if (c instanceof DebianPackageComponent) await c.build(); // throws with the apt-get line
  throw new EnvironmentError(
    `${c.name} ${await c.version()} is not built: run 'returnpath components build ${c.name}' ` +
      `(once; about ${c.coldBuildHint} the first time, then cached in ${componentsDir()})`,
  );
}

export interface BuildOptions {
  log?: (line: string) => void;
  /** Rebuild even when cached. */
  force?: boolean;
  /** Heartbeat period for long steps. */
  heartbeatMs?: number;
  /** Aborts the child processes of a build in progress (SIGINT). */
  signal?: AbortSignal;
}

export interface BuildReport {
  name: string;
  version: string;
  dir: string;
  /** What happened: built now, found in the cache, or found on the system (Debian package). */
  state: 'built' | 'cached' | 'system';
  seconds: number;
}

/** Builds `c` unless cached, under its lock; idempotent. */
export async function buildComponent(c: Component, opts: BuildOptions = {}): Promise<BuildReport> {
  const log = opts.log ?? (() => undefined);
  const t0 = performance.now();
  const { version, hash, dir } = await cacheKey(c);
  const report = (state: BuildReport['state']): BuildReport => ({
    name: c.name,
    version,
    dir,
    state,
    seconds: (performance.now() - t0) / 1000,
  });
  if (c instanceof DebianPackageComponent) {
    await c.build({ log } as BuildContext);
    return report('system');
  }
  for (const dep of c.dependencies ?? []) await buildComponent(dep, { ...opts, force: false });
  if (!opts.force && (await findBuilt(c))) return report('cached');

  const lock = await acquireLock(join(locksDir(), `${c.name}-${version}-${hash}.lock`), {
    onWait: (holder) => log(`${c.name} ${version}: waiting for another build of it (${holder})`),
  });
  const tmpDirs: string[] = [];
  try {
    // Someone else may have built it while we waited.
    if (!opts.force && (await findBuilt(c))) return report('cached');
    await mkdir(join(componentsDir(), c.name), { recursive: true });
    const outDir = await mkdtemp(join(componentsDir(), c.name, `.tmp-${version}-${hash}-`));
    tmpDirs.push(outDir);
    const workDir = await mkdtemp(join(componentsDir(), c.name, `.work-${version}-${hash}-`));
    tmpDirs.push(workDir);
    log(`${c.name} ${version}: building (about ${c.coldBuildHint} cold, seconds when Go's cache is warm)`);
    await buildAndDescribe(c, { version, recipeHash: hash, outDir, workDir, t0, opts, log });
    await rm(dir, { recursive: true, force: true });
    await rename(outDir, dir);
    tmpDirs.shift();
    return report('built');
  } finally {
    for (const d of tmpDirs.reverse()) await rm(d, { recursive: true, force: true });
    await lock.release();
  }
}

/**
 * Builds `c` into `dir` (not the cache): for a build of the user's own source. The files appear
 * only when the build is complete (a sibling temporary directory renamed into place); `extra`
 * goes into manifest.json beside the usual fields.
 */
export async function buildInto(
  c: Component,
  dir: string,
  opts: BuildOptions & { extra?: Record<string, unknown> } = {},
): Promise<BuildReport> {
  const log = opts.log ?? (() => undefined);
  const t0 = performance.now();
  // The same recipe hash as the cache's key, so a build's manifest says which recipe made it.
  const { version, hash: recipeHash } = await cacheKey(c);
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  const outDir = await mkdtemp(join(parent, `.${basename(dir)}.tmp-`));
  const workDir = await mkdtemp(join(parent, `.${basename(dir)}.work-`));
  try {
    log(`${c.name} ${version}: building into ${dir}`);
    const seconds = await buildAndDescribe(c, {
      version,
      recipeHash,
      outDir,
      workDir,
      t0,
      opts,
      log,
      ...(opts.extra && { extra: opts.extra }),
    });
    await rm(dir, { recursive: true, force: true });
    await rename(outDir, dir);
    return { name: c.name, version, dir, state: 'built', seconds };
  } finally {
    await rm(outDir, { recursive: true, force: true });
    await rm(workDir, { recursive: true, force: true });
  }
}

interface BuildStep {
  version: string;
  recipeHash: string;
  outDir: string;
  workDir: string;
  /** When the build started (performance.now()), for buildSeconds. */
  t0: number;
  opts: BuildOptions;
  log: (line: string) => void;
  /** Written into manifest.json beside the usual fields. */
  extra?: Record<string, unknown>;
}

/** Runs `c`'s build into `outDir` and writes its manifest.json there; returns the build's seconds. */
async function buildAndDescribe(c: Component, step: BuildStep): Promise<number> {
  const { version, outDir, workDir, opts } = step;
  const prefixed = (l: string): void => step.log(`${c.name} ${version}: ${l}`);
  const ctx: BuildContext = {
    outDir,
    workDir,
    log: prefixed,
    run: (argv, o = {}) =>
      runLogged(argv, {
        ...o,
        heartbeatMs: opts.heartbeatMs ?? 30_000,
        log: prefixed,
        ...(opts.signal && { signal: opts.signal }),
      }),
  };
  await c.build(ctx);
  const seconds = (performance.now() - step.t0) / 1000;
  const toolchain = await runLogged(['go', 'env', 'GOVERSION'], { log: () => undefined })
    .then((r) => r.stdout.trim())
    .catch(() => undefined);
  const manifest: ComponentManifest & Record<string, unknown> = {
    name: c.name,
    version,
    recipeHash: step.recipeHash,
    files: [...c.files],
    builtAt: new Date().toISOString(),
    buildSeconds: Math.round(seconds * 10) / 10,
    ...(toolchain && { toolchain }),
    ...step.extra,
  };
  await writeFile(join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return seconds;
}

interface LoggedRunOptions {
  input?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  what?: string;
  heartbeatMs?: number;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/** Runs argv, collecting output; logs "still running" every heartbeat; throws CommandError on failure. */
function runLogged(argv: readonly string[], o: LoggedRunOptions): Promise<CommandResult> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(file!, args, {
      cwd: o.cwd,
      env: o.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(o.signal && { signal: o.signal }),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const beat =
      o.heartbeatMs && o.what
        ? setInterval(
            () => o.log(`${o.what}: still running (${Math.round((performance.now() - t0) / 1000)} s)`),
            o.heartbeatMs,
          )
        : undefined;
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => {
      clearInterval(beat);
      reject(new CommandError(argv, null, e.message));
    });
    child.on('close', (code) => {
      clearInterval(beat);
      const r = { argv, code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (code === 0) resolve(r);
      else reject(new CommandError(argv, code, r.stderr, r.stdout));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.input ?? '');
  });
}

export interface CleanComponentsReport {
  removed: string[];
}

/**
 * Removes what interrupted builds left: lock files nobody holds and temporary build directories
 * whose build is not running (its lock is free). With `all`, removes the whole component cache.
 */
export async function cleanComponents(opts: { all?: boolean } = {}): Promise<CleanComponentsReport> {
  const root = componentsDir();
  if (opts.all) {
    const exists = await access(root).then(
      () => true,
      () => false,
    );
    await rm(root, { recursive: true, force: true });
    return { removed: exists ? [root] : [] };
  }
  const removed: string[] = [];
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (name.startsWith('.')) continue;
    for (const entry of await readdir(join(root, name)).catch(() => [] as string[])) {
      const m = /^\.(tmp|work)-(.+)-([0-9a-f]{12})-/.exec(entry);
      if (!m) continue;
      const lockPath = join(locksDir(), `${name}-${m[2]}-${m[3]}.lock`);
      const lock = await tryAcquireLock(lockPath);
      if (!lock) continue;
      try {
        await rm(join(root, name, entry), { recursive: true, force: true });
        removed.push(join(root, name, entry));
      } finally {
        await lock.release();
      }
    }
  }
  removed.push(...(await sweepLockFiles(locksDir())));
  return { removed };
}
