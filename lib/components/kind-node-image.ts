/**
 * kind's node image (what `kind build node-image` makes), built offline in a private engine the
 * way kind's own build does it (pkg/build/nodeimage): the base image, kubeadm/kubelet/kubectl in
 * /usr/bin, /kind/version, and the images kubeadm asks for imported into the node's containerd
 * (`ctr -n k8s.io images import --no-unpack`, pinned), then `docker commit` with kind's entrypoint.
 *
 * The images are returnpath's own builds, tagged as kubeadm lists them for this Kubernetes
 * version (the build fails if kubeadm expects another etcd or CoreDNS than versions.ts pins):
 * kube-apiserver, kube-controller-manager, kube-scheduler and etcd (static binaries on a
 * busybox-static base), kube-proxy (on the Debian netfilter tools from the base image), CoreDNS,
 * and pause (containerd's sandbox image, set in the node's containerd config). No kindnetd and no
 * local-path-provisioner images: returnpath installs its own CNI and needs no storage class.
 *
 * Output: node-image.tar (`docker save`) and image.json (its reference and contents).
 */
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import { DockerCli, lines, pipeCommands } from '../engine/docker.js';
import { engineRunDir } from '../engine/paths.js';
import { PrivateEngine } from '../engine/private-engine.js';
import type { BuildContext, Component } from './component.js';
import type { DebianPackageComponent } from './debian-package.js';
import type { GoModuleComponent } from './go-module.js';
import type { GoSourceComponent } from './go-source.js';
import { forceRestrictOomScoreAdj, type KindBaseImage } from './kind-base-image.js';
import type { PauseComponent } from './pause.js';
import { cacheKey, requireBuilt } from './store.js';

export const NODE_ENTRYPOINT = '["/usr/local/bin/entrypoint", "/sbin/init"]';

/** kind's containerd config with returnpath's pause image as the sandbox image. */
export function setSandboxImage(config: string, image: string): string {
  const re = /^(\s*sandbox_image\s*=\s*)"[^"]*"\s*$/m;
  if (!re.test(config)) throw new Error('kind containerd config: no sandbox_image line to change');
  return config.replace(re, `$1"${image}"`);
}

export interface ImagePlan {
  /** kubeadm's name for it, e.g. registry.k8s.io/kube-apiserver:v1.36.3. */
  ref: string;
  /** Which binary and where it goes in the image. */
  binary: { from: string; to: string };
  /** Root filesystem under the binary. */
  base: 'busybox' | 'netfilter' | 'scratch';
  entrypoint: string[];
  user?: string;
}

/**
 * The images a node needs, from `kubeadm config images list` (less pause, which is containerd's
 * sandbox image instead). Throws when kubeadm lists an image returnpath does not build, or another
 * etcd or CoreDNS version than the ones pinned.
 */
export function planImages(
  kubeadmList: readonly string[],
  bins: { kubernetes: string; etcd: string; etcdVersion: string; coredns: string; corednsVersion: string },
  pause: { bin: string; tag: string },
): ImagePlan[] {
  const plans: ImagePlan[] = [];
  for (const ref of kubeadmList) {
    const m = /^registry\.k8s\.io\/(.+):([^:]+)$/.exec(ref);
    if (!m) throw new Error(`kubeadm lists an image outside registry.k8s.io: ${ref}`);
    const [, repo, tag] = m as unknown as [string, string, string];
    const control = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];
    if (control.includes(repo)) {
      const to = `/usr/local/bin/${repo}`;
      plans.push({
        ref,
        binary: { from: join(bins.kubernetes, repo), to },
        base: 'busybox',
        entrypoint: [to],
      });
    } else if (repo === 'kube-proxy') {
      const to = '/usr/local/bin/kube-proxy';
      plans.push({
        ref,
        binary: { from: join(bins.kubernetes, repo), to },
        base: 'netfilter',
        entrypoint: [to],
      });
    } else if (repo === 'etcd') {
      if (!tag.startsWith(`${bins.etcdVersion.replace(/^v/, '')}-`))
        throw new Error(`kubeadm expects etcd ${tag}; versions.ts pins etcd ${bins.etcdVersion}`);
      const to = '/usr/local/bin/etcd';
      plans.push({ ref, binary: { from: bins.etcd, to }, base: 'busybox', entrypoint: [to] });
    } else if (repo === 'coredns/coredns') {
      if (tag !== bins.corednsVersion)
        throw new Error(`kubeadm expects CoreDNS ${tag}; versions.ts pins CoreDNS ${bins.corednsVersion}`);
      plans.push({
        ref,
        binary: { from: bins.coredns, to: '/coredns' },
        base: 'scratch',
        entrypoint: ['/coredns'],
      });
    } else if (repo !== 'pause') throw new Error(`kubeadm lists an image returnpath does not build: ${ref}`);
  }
  plans.push({
    ref: `registry.k8s.io/pause:${pause.tag}`,
    binary: { from: pause.bin, to: '/pause' },
    base: 'scratch',
    entrypoint: ['/pause'],
    user: '65535:65535',
  });
  return plans;
}

export interface KindNodeDeps {
  kubernetesVersion: string;
  base: KindBaseImage;
  kubernetes: GoModuleComponent;
  etcd: GoModuleComponent;
  coredns: GoModuleComponent;
  pause: PauseComponent;
  engine: GoModuleComponent;
  runc: GoSourceComponent;
  dockerCli: GoSourceComponent;
  /** For dependencies only (the base needs it). */
  cniPlugins?: DebianPackageComponent;
}

export interface NodeImageInfo {
  ref: string;
  kubernetesVersion: string;
  images: string[];
}

export class KindNodeImage implements Component {
  readonly name = 'kind-node';
  readonly description: string;
  readonly files = ['node-image.tar', 'image.json'] as const;
  readonly coldBuildHint = '3-5 min once the other components are built';
  readonly dependencies: readonly Component[];

  constructor(readonly d: KindNodeDeps) {
    this.description = `kind node image for Kubernetes ${d.kubernetesVersion} (base, kubeadm/kubelet/kubectl, control-plane images), built offline`;
    this.dependencies = [d.base, d.kubernetes, d.etcd, d.coredns, d.pause, d.engine, d.runc, d.dockerCli];
  }

  version(): Promise<string> {
    return Promise.resolve(this.d.kubernetesVersion);
  }

  async recipe(): Promise<string> {
    const deps = await Promise.all(
      this.dependencies.map(async (c) => `${c.name}:${(await cacheKey(c)).hash}`),
    );
    return JSON.stringify({ layout: 2, entrypoint: NODE_ENTRYPOINT, deps });
  }

  async build(ctx: BuildContext): Promise<void> {
    if (process.getuid?.() !== 0)
      throw new EnvironmentError('building the kind node image needs root (a private engine)');
    const busybox = '/bin/busybox';
    await ctx.run([busybox, 'true'], { what: 'busybox' }).catch(() => {
      throw new EnvironmentError('the kind node image needs busybox-static: apt-get install busybox-static');
    });
    const [base, k8s, etcd, coredns, pause, engine, runc, cli] = await Promise.all(
      [
        this.d.base,
        this.d.kubernetes,
        this.d.etcd,
        this.d.coredns,
        this.d.pause,
        this.d.engine,
        this.d.runc,
        this.d.dockerCli,
      ].map((c) => requireBuilt(c)),
    );
    const version = this.d.kubernetesVersion;
    const ref = `returnpath.local/kind-node:${version}-${(await cacheKey(this)).hash}`;
    const kubeadmList = lines(
      (
        await ctx.run(
          [k8s!.path('bin/kubeadm'), 'config', 'images', 'list', '--kubernetes-version', version],
          {
            what: 'kubeadm config images list',
          },
        )
      ).stdout,
    );
    const pauseTag = (await readFile(pause!.path('tag'), 'utf8')).trim();
    const plans = planImages(
      kubeadmList,
      {
        kubernetes: k8s!.path('bin'),
        etcd: etcd!.path('bin/etcd'),
        etcdVersion: await this.d.etcd.version(),
        coredns: coredns!.path('bin/coredns'),
        corednsVersion: await this.d.coredns.version(),
      },
      { bin: pause!.path('bin/pause'), tag: pauseTag },
    );

    const id = `build-${randomBytes(3).toString('hex')}`;
    const started = await PrivateEngine.start({
      id,
      binaries: {
        dockerd: engine!.path('bin/dockerd'),
        dockerProxy: engine!.path('bin/docker-proxy'),
        docker: cli!.path('bin/docker'),
        pathDirs: [engine!.path('bin'), runc!.path('bin')],
      },
      dataDir: join(ctx.workDir, 'engine'),
      runDir: engineRunDir(id),
      log: ctx.log,
    });
    try {
      await this.assemble(ctx, started.docker, {
        ref,
        plans,
        baseTar: base!.path('rootfs.tar'),
        netfilterTar: base!.path('netfilter.tar'),
        kubernetesBin: k8s!.path('bin'),
        pauseRef: `registry.k8s.io/pause:${pauseTag}`,
        containerdConfig: await readFile(
          join((await requireBuilt(this.d.base.d.kind)).dir, 'base-files/etc/containerd/config.toml'),
          'utf8',
        ),
        busybox,
        id,
        kubernetesVersion: version,
      });
    } finally {
      await started.stop();
    }
  }

  private async assemble(
    ctx: BuildContext,
    docker: DockerCli,
    a: {
      ref: string;
      plans: ImagePlan[];
      baseTar: string;
      netfilterTar: string;
      kubernetesBin: string;
      pauseRef: string;
      containerdConfig: string;
      busybox: string;
      id: string;
      kubernetesVersion: string;
    },
  ): Promise<void> {
    const baseRef = `returnpath.local/kind-base:${a.id}`;
    ctx.log('importing the base root filesystem');
    await docker.run(
      [
        'import',
        '--change',
        'ENV container=docker',
        '--change',
        'STOPSIGNAL SIGRTMIN+3',
        '--change',
        `ENTRYPOINT ${NODE_ENTRYPOINT}`,
        a.baseTar,
        baseRef,
      ],
      {},
    );
    for (const p of a.plans) {
      const dir = join(ctx.workDir, 'images', p.ref.replace(/[^a-z0-9.-]+/g, '_'));
      await imageRoot(ctx, dir, p, a);
      const changes = [`ENTRYPOINT ${JSON.stringify(p.entrypoint)}`, ...(p.user ? [`USER ${p.user}`] : [])];
      await pipeCommands(
        ['tar', '--numeric-owner', '-C', dir, '-c', ...(await topLevel(dir))],
        docker.argv(['import', ...changes.flatMap((c) => ['--change', c]), '-', p.ref]),
      );
      ctx.log(`image ${p.ref}`);
    }

    // The node's own files: kubeadm, kubelet, kubectl, /kind/version, containerd's config.
    const overlay = join(ctx.workDir, 'overlay');
    for (const b of ['kubeadm', 'kubelet', 'kubectl'])
      await put(join(a.kubernetesBin, b), join(overlay, 'usr/bin', b), 0o755);
    await putText(join(overlay, 'kind/version'), a.kubernetesVersion);
    await putText(
      join(overlay, 'etc/containerd/config.toml'),
      setSandboxImage(forceRestrictOomScoreAdj(a.containerdConfig), a.pauseRef),
    );

    // kind's build container: containerd as its first process, so `docker stop` ends it cleanly.
    const build = `rp-${a.id}`;
    await docker.run([
      'run',
      '--detach',
      '--name',
      build,
      '--label',
      `returnpath.build=${a.id}`,
      '--entrypoint',
      '/usr/local/bin/containerd',
      '--security-opt',
      'seccomp=unconfined',
      baseRef,
    ]);
    try {
      await pipeCommands(
        ['tar', '--numeric-owner', '-C', overlay, '-c', 'usr', 'kind', 'etc'],
        docker.argv(['cp', '--archive', '-', `${build}:/`]),
      );
      const deadline = Date.now() + 60_000;
      while ((await docker.run(['exec', build, 'ctr', 'version'], { allowFailure: true })).code !== 0) {
        if (Date.now() > deadline)
          throw new Error('containerd in the build container did not answer within 60 s');
        await new Promise((r) => setTimeout(r, 250));
      }
      ctx.log(`importing ${a.plans.length} images into the node's containerd`);
      await pipeCommands(
        docker.argv(['save', ...a.plans.map((p) => p.ref)]),
        docker.argv([
          'exec',
          '--interactive',
          build,
          'ctr',
          '--namespace=k8s.io',
          'images',
          'import',
          '--label=io.cri-containerd.pinned=pinned',
          '--all-platforms',
          '--no-unpack',
          '--digests',
          '-',
        ]),
      );
      const listed = new Set(
        lines(
          (await docker.run(['exec', build, 'ctr', '--namespace=k8s.io', 'images', 'list', '-q'])).stdout,
        ),
      );
      const missing = a.plans.map((p) => p.ref).filter((r) => !listed.has(r));
      if (missing.length)
        throw new Error(`the node's containerd lacks ${missing.join(', ')} after the import`);
      await docker.run(['stop', '--time', '30', build]);
      await docker.run(['commit', '--change', `ENTRYPOINT ${NODE_ENTRYPOINT}`, build, a.ref]);
    } finally {
      await docker.run(['rm', '--force', '--volumes', build], { allowFailure: true });
    }
    ctx.log(`saving ${a.ref}`);
    await docker.run(['save', '--output', join(ctx.outDir, 'node-image.tar'), a.ref]);
    const info: NodeImageInfo = {
      ref: a.ref,
      kubernetesVersion: a.kubernetesVersion,
      images: a.plans.map((p) => p.ref),
    };
    await writeFile(join(ctx.outDir, 'image.json'), JSON.stringify(info, null, 2) + '\n');
  }
}

async function put(from: string, to: string, mode: number): Promise<void> {
  await mkdir(dirname(to), { recursive: true, mode: 0o755 });
  await copyFile(from, to);
  await chmod(to, mode);
}

async function putText(to: string, text: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true, mode: 0o755 });
  await writeFile(to, text.endsWith('\n') ? text : `${text}\n`);
  await chmod(to, 0o644);
}

/** An image's root filesystem in `dir`: its base, then its binary. */
async function imageRoot(
  ctx: BuildContext,
  dir: string,
  p: ImagePlan,
  a: { netfilterTar: string; busybox: string },
): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await mkdir(join(dir, 'tmp'), { recursive: true });
  await chmod(join(dir, 'tmp'), 0o1777);
  await putText(
    join(dir, 'etc/passwd'),
    'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin',
  );
  await putText(join(dir, 'etc/group'), 'root:x:0:\nnobody:x:65534:');
  await putText(join(dir, 'etc/nsswitch.conf'), 'hosts: files dns');
  if (p.base === 'busybox') {
    await put(a.busybox, join(dir, 'bin/busybox'), 0o755);
    await symlink('busybox', join(dir, 'bin/sh'));
  }
  if (p.base === 'netfilter')
    await ctx.run(['tar', '--numeric-owner', '-C', dir, '-xf', a.netfilterTar], { what: 'tar -x netfilter' });
  await put(p.binary.from, join(dir, p.binary.to), 0o755);
}

async function topLevel(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}
