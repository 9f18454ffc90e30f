/**
 * Components built inside a copy of an upstream module's own source, with its own go.mod (or, for
 * modules that keep their requirements elsewhere, that file), when a wrapper module cannot build
 * them as published: runc (its go.mod replaces a module with a directory the module zip leaves
 * out) and the docker CLI (CalVer, no go.mod: its requirements are in vendor.mod, its sources
 * vendored). The only edits are the go.mod edits the recipe lists.
 */
import { chmod, cp, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import type { BuildContext, Component } from './component.js';
import { downloadedModuleDir, fetching, goEnv, requireGo, type GoBinary } from './go-module.js';

export interface GoSourceRecipe {
  name: string;
  description: string;
  version: string;
  /** The module whose source is built, at `version`. */
  module: string;
  /** The module version to fetch, when it differs from `version` (`+incompatible`). */
  moduleVersion?: string;
  /** Files copied over go.mod/go.sum first (docker/cli: vendor.mod, vendor.sum). */
  goModFrom?: { mod: string; sum: string };
  /** `go mod edit` argument lists applied to the copy, e.g. ['-dropreplace', 'example.com/x']. */
  goModEdits?: string[][];
  /** `-mod=` for the build: the module's vendor directory or the module cache. */
  mod: 'vendor' | 'mod';
  /** Packages relative to the module root (`.`, `./cmd/docker`). */
  binaries: GoBinary[];
  ldflags?: string[];
  tags?: string[];
  /** cgo: needs a C compiler, and these pkg-config packages (with the Debian package that has them). */
  cgo?: { pkgConfig: { name: string; debianPackage: string }[] };
  coldBuildHint: string;
}

export class GoSourceComponent implements Component {
  readonly name: string;
  readonly description: string;
  readonly files: readonly string[];
  readonly coldBuildHint: string;

  constructor(readonly r: GoSourceRecipe) {
    this.name = r.name;
    this.description = r.description;
    this.coldBuildHint = r.coldBuildHint;
    this.files = r.binaries.map((b) => `bin/${b.out}`);
  }

  version(): Promise<string> {
    return Promise.resolve(this.r.version);
  }

  recipe(): Promise<string> {
    const { module, moduleVersion, goModFrom, goModEdits, mod, binaries, ldflags, tags, cgo } = this.r;
    return Promise.resolve(
      JSON.stringify({ module, moduleVersion, goModFrom, goModEdits, mod, binaries, ldflags, tags, cgo }),
    );
  }

  async build(ctx: BuildContext): Promise<void> {
    const env = goEnv({ GOFLAGS: `-mod=${this.r.mod}`, CGO_ENABLED: this.r.cgo ? '1' : '0' });
    await requireGo(ctx, env, `${this.name} ${this.r.version}`);
    if (this.r.cgo) await requireCgo(ctx, this.name, this.r.cgo.pkgConfig);
    const src = await downloadedModuleDir(ctx, env, this.r.module, this.r.moduleVersion ?? this.r.version);
    const dir = join(ctx.workDir, 'src');
    await cp(src, dir, { recursive: true });
    await makeWritable(dir);
    if (this.r.goModFrom) {
      await cp(join(dir, this.r.goModFrom.mod), join(dir, 'go.mod'));
      await cp(join(dir, this.r.goModFrom.sum), join(dir, 'go.sum'));
    }
    for (const edit of this.r.goModEdits ?? [])
      await ctx.run(['go', 'mod', 'edit', ...edit], { cwd: dir, env, what: `go mod edit ${edit.join(' ')}` });
    await mkdir(join(ctx.outDir, 'bin'), { recursive: true });
    const ldflags = ['-s', '-w', ...(this.r.ldflags ?? [])].join(' ');
    for (const b of this.r.binaries) {
      const argv = ['go', 'build', '-trimpath', '-ldflags', ldflags];
      if (this.r.tags?.length) argv.push('-tags', this.r.tags.join(','));
      argv.push('-o', join(ctx.outDir, 'bin', b.out), b.pkg);
      await fetching(`${this.name} ${this.r.version}`, () =>
        ctx.run(argv, { cwd: dir, env, what: `go build ${b.out}` }),
      );
    }
  }
}

/** The module cache is read-only; the copy must not be. */
async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await makeWritable(p);
    else if (e.isFile()) await chmod(p, 0o644);
  }
}

async function requireCgo(
  ctx: BuildContext,
  what: string,
  pkgs: { name: string; debianPackage: string }[],
): Promise<void> {
  const missing: string[] = [];
  const ok = (argv: string[]): Promise<boolean> =>
    ctx.run(argv, { what: argv.join(' ') }).then(
      () => true,
      () => false,
    );
  if (!(await ok(['gcc', '--version']))) missing.push('gcc', 'libc6-dev');
  if (!(await ok(['pkg-config', '--version']))) missing.push('pkg-config');
  else
    for (const p of pkgs) if (!(await ok(['pkg-config', '--exists', p.name]))) missing.push(p.debianPackage);
  if (missing.length)
    throw new EnvironmentError(
      `${what} is built with cgo and needs: apt-get install ${missing.join(' ')} (or run scripts/install-system-deps)`,
    );
}
