/**
 * Components built from the Go module proxy in a small wrapper module: `require` the upstream
 * module at its pinned version, add the replace lines it needs and returnpath's own helper
 * packages (Go sources under lib/components/go/), `go mod tidy`, then `go build` each binary.
 * Nothing is vendored or patched: the upstream code is compiled as published.
 */
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvironmentError } from '../errors.js';
import { CommandError } from '../errors.js';
import type { BuildContext, Component } from './component.js';
import { GO_MIN_VERSION } from './versions.js';

/** Go sources of returnpath's own helpers, in the source tree (lib/components/go). */
export const GO_SOURCES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../lib/components/go');

export interface GoBinary {
  /** Package to build, e.g. `k8s.io/kubernetes/cmd/kube-proxy` or a local `./vpc-cni-node`. */
  pkg: string;
  /** File name under bin/. */
  out: string;
}

export interface GoModuleRecipe {
  name: string;
  description: string;
  version: string;
  /** Modules the wrapper requires: path -> version. */
  require: Record<string, string>;
  binaries: GoBinary[];
  /** Directories under lib/components/go copied into the wrapper module (as `./<dir>`). */
  localPackages?: string[];
  /**
   * Extra go.mod lines (replace directives), computed from the upstream module when needed. They
   * must follow from `require` alone (the cache key does not see this function's code: change
   * RECIPE_REVISION in store.ts when a recipe's steps change).
   */
  goModExtra?: (ctx: BuildContext, env: NodeJS.ProcessEnv) => Promise<string[]>;
  /** `-X` and other linker flags besides `-s -w`. */
  ldflags?: string[];
  tags?: string[];
  env?: Record<string, string>;
  /** Files copied from a required module's source into the component: [module, path in it, target]. */
  copyFromModule?: [string, string, string][];
  coldBuildHint: string;
}

export class GoModuleComponent implements Component {
  readonly name: string;
  readonly description: string;
  readonly files: readonly string[];
  readonly coldBuildHint: string;

  constructor(readonly r: GoModuleRecipe) {
    this.name = r.name;
    this.description = r.description;
    this.coldBuildHint = r.coldBuildHint;
    this.files = [
      ...r.binaries.map((b) => `bin/${b.out}`),
      ...(r.copyFromModule ?? []).map(([, , to]) => to),
    ];
  }

  version(): Promise<string> {
    return Promise.resolve(this.r.version);
  }

  async recipe(): Promise<string> {
    const local = await Promise.all(
      (this.r.localPackages ?? []).map(async (d) => `${d}:${await hashTree(join(GO_SOURCES_DIR, d))}`),
    );
    return JSON.stringify({
      require: this.r.require,
      binaries: this.r.binaries,
      ldflags: this.r.ldflags ?? [],
      tags: this.r.tags ?? [],
      env: this.r.env ?? {},
      copy: this.r.copyFromModule ?? [],
      local,
    });
  }

  async build(ctx: BuildContext): Promise<void> {
    const env = goEnv(this.r.env);
    await requireGo(ctx, env, `${this.name} ${this.r.version}`);
    const dir = ctx.workDir;
    const requires = Object.entries(this.r.require).map(([m, v]) => `require ${m} ${v}`);
    const extra = (await this.r.goModExtra?.(ctx, env)) ?? [];
    await writeFile(
      join(dir, 'go.mod'),
      [
        `module returnpath.local/${this.name}`,
        '',
        `go ${GO_MIN_VERSION}`,
        '',
        ...requires,
        ...extra,
        '',
      ].join('\n'),
    );
    for (const d of this.r.localPackages ?? [])
      await cp(join(GO_SOURCES_DIR, d), join(dir, d), { recursive: true });
    // Blank imports keep `go mod tidy` from dropping what only the build command names.
    const external = this.r.binaries.filter((b) => !b.pkg.startsWith('./')).map((b) => `\t_ "${b.pkg}"`);
    if (external.length > 0)
      await writeFile(
        join(dir, 'tools.go'),
        ['//go:build tools', '', 'package tools', '', 'import (', ...external, ')', ''].join('\n'),
      );
    await fetching(this, () => ctx.run(['go', 'mod', 'tidy'], { cwd: dir, env, what: 'go mod tidy' }));
    await mkdir(join(ctx.outDir, 'bin'), { recursive: true });
    const ldflags = ['-s', '-w', ...(this.r.ldflags ?? [])].join(' ');
    for (const b of this.r.binaries) {
      const argv = ['go', 'build', '-trimpath', '-ldflags', ldflags];
      if (this.r.tags?.length) argv.push('-tags', this.r.tags.join(','));
      argv.push('-o', join(ctx.outDir, 'bin', b.out), b.pkg);
      await ctx.run(argv, { cwd: dir, env, what: `go build ${b.out}` });
    }
    for (const [mod, path, to] of this.r.copyFromModule ?? []) {
      const src = await moduleDir(ctx, dir, env, mod);
      await mkdir(dirname(join(ctx.outDir, to)), { recursive: true });
      await cp(join(src, path), join(ctx.outDir, to), { recursive: true });
    }
  }
}

export function goEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOFLAGS: '-mod=mod',
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
    ...extra,
  };
}

/** The source directory of a module the wrapper requires (in the module cache). */
export async function moduleDir(
  ctx: BuildContext,
  cwd: string,
  env: NodeJS.ProcessEnv,
  mod: string,
): Promise<string> {
  const r = await ctx.run(['go', 'list', '-m', '-f', '{{.Dir}}', mod], { cwd, env, what: `locate ${mod}` });
  return r.stdout.trim();
}

/** The downloaded go.mod of module@version (for replace lines). */
export async function downloadedGoMod(
  ctx: BuildContext,
  env: NodeJS.ProcessEnv,
  mod: string,
  version: string,
): Promise<string> {
  const r = await ctx.run(['go', 'mod', 'download', '-json', `${mod}@${version}`], {
    cwd: ctx.workDir,
    env,
    what: `go mod download ${mod}@${version}`,
  });
  const info = JSON.parse(r.stdout) as { GoMod?: string; Error?: string };
  if (!info.GoMod) throw new Error(`go mod download ${mod}@${version}: ${info.Error ?? 'no go.mod'}`);
  return readFile(info.GoMod, 'utf8');
}

async function requireGo(ctx: BuildContext, env: NodeJS.ProcessEnv, what: string): Promise<void> {
  const need = `Go ${GO_MIN_VERSION} or newer is needed to build ${what}: install it from https://go.dev/dl/ and put its bin directory on PATH`;
  let out: string;
  try {
    out = (await ctx.run(['go', 'env', 'GOVERSION'], { env, what: 'go env' })).stdout.trim();
  } catch (e) {
    if (e instanceof CommandError && e.code === null) throw new EnvironmentError(`${need} (no "go" on PATH)`);
    throw e;
  }
  const m = /^go(\d+)\.(\d+)(?:\.(\d+))?/.exec(out);
  if (!m || compareVersions([+m[1]!, +m[2]!, +(m[3] ?? 0)], GO_MIN_VERSION.split('.').map(Number)) < 0)
    throw new EnvironmentError(`${need} (found ${out || 'an unknown version'})`);
}

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Turns a module download failure into "the machine cannot reach the Go module proxy" (exit 3). */
async function fetching<T>(c: GoModuleComponent, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (
      e instanceof CommandError &&
      /dial tcp|no such host|connection refused|i\/o timeout|TLS handshake|proxy\.golang\.org|: 40[34] |410 Gone|unknown revision|invalid version/.test(
        e.stderr,
      )
    )
      throw new EnvironmentError(
        `${c.name} ${c.r.version}: could not fetch its modules from the Go module proxy ` +
          `(GOPROXY=${process.env['GOPROXY'] ?? 'https://proxy.golang.org,direct'}): ${lastLines(e.stderr, 4)}`,
      );
    throw e;
  }
}

export function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

/** sha256 over every file under `dir` (names and contents), for cache keys. */
export async function hashTree(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (e.isDirectory()) await walk(join(d, e.name), `${rel}${e.name}/`);
      else {
        h.update(`${rel}${e.name}\0`);
        h.update(await readFile(join(d, e.name)));
      }
    }
  };
  await walk(dir, '');
  return h.digest('hex').slice(0, 16);
}
