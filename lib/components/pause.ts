/**
 * The pause container's program, compiled as Kubernetes does (build/pause/Makefile:
 * `gcc -Os -Wall -Werror -static -DVERSION=...`) from the k8s.io/kubernetes module's own
 * build/pause/linux/pause.c. Its image tag is the Makefile's TAG, recorded beside the binary.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import type { BuildContext, Component } from './component.js';
import { downloadedModuleDir, goEnv, requireGo } from './go-module.js';

/** The pause image tag Kubernetes' build/pause/Makefile declares (`TAG ?= 3.10.2`). */
export function pauseTag(makefile: string): string {
  const m = /^TAG\s*\?=\s*(\S+)\s*$/m.exec(makefile);
  if (!m) throw new Error('build/pause/Makefile: no "TAG ?= ..." line');
  return m[1]!;
}

export class PauseComponent implements Component {
  readonly name = 'pause';
  readonly description: string;
  readonly files = ['bin/pause', 'tag'] as const;
  readonly coldBuildHint = 'seconds';

  constructor(readonly kubernetesVersion: string) {
    this.description = `the pause program (gcc -static of k8s.io/kubernetes ${kubernetesVersion} build/pause/linux/pause.c)`;
  }

  version(): Promise<string> {
    return Promise.resolve(this.kubernetesVersion);
  }

  recipe(): Promise<string> {
    return Promise.resolve(
      JSON.stringify({ module: 'k8s.io/kubernetes', file: 'build/pause/linux/pause.c', cflags: CFLAGS }),
    );
  }

  async build(ctx: BuildContext): Promise<void> {
    const env = goEnv();
    await requireGo(ctx, env, `pause ${this.kubernetesVersion}`);
    await ctx.run(['gcc', '--version'], { what: 'gcc' }).catch(() => {
      throw new EnvironmentError('pause is compiled with gcc: apt-get install gcc libc6-dev');
    });
    const src = await downloadedModuleDir(ctx, env, 'k8s.io/kubernetes', this.kubernetesVersion);
    const tag = pauseTag(await readFile(join(src, 'build/pause/Makefile'), 'utf8'));
    await mkdir(join(ctx.outDir, 'bin'), { recursive: true });
    await ctx.run(
      [
        'gcc',
        ...CFLAGS,
        `-DVERSION=v${tag}-k8s-${this.kubernetesVersion}`,
        '-o',
        join(ctx.outDir, 'bin/pause'),
        join(src, 'build/pause/linux/pause.c'),
      ],
      { what: 'gcc pause.c' },
    );
    await writeFile(join(ctx.outDir, 'tag'), `${tag}\n`);
  }
}

const CFLAGS = ['-Os', '-Wall', '-Werror', '-static'];
