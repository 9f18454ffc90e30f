/**
 * kind's base image (sigs.k8s.io/kind images/base/Dockerfile), built without pulling anything: a
 * debootstrap root filesystem of the Debian suite (instead of `FROM debian:*-slim`) with the
 * packages the Dockerfile installs, kind's own files (entrypoint, /kind/bin, systemd units,
 * containerd config) with the Dockerfile's modes, its systemd clean-up and `systemctl enable`
 * steps, then what its build stages add: containerd, ctr and the runc shim, runc, the CNI plugins
 * (here Debian's), and /etc/containerd/cri-base.json from `ctr oci spec` with kind's two edits.
 *
 * Differences from stock kind (all in the README): Debian packages from the suite pinned in
 * versions.ts; no nfs-common, open-iscsi, fuse-overlayfs (storage e2e and rootless only), no
 * crictl, no containerd-fuse-overlayfs; containerd and runc are returnpath's builds; the CNI
 * plugins are Debian's containernetworking-plugins; containerd's `restrict_oom_score_adj` is true
 * (this machine gives containers no CAP_SYS_RESOURCE: without it every pod fails).
 *
 * Output: rootfs.tar (the image's root filesystem) and netfilter.tar (the files of iptables,
 * nftables and conntrack with their dependency closure: kube-proxy's image base).
 */
import {
  access,
  chmod,
  copyFile,
  mkdir,
  readdir,
  readFile,
  readlink,
  realpath,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { EnvironmentError } from '../errors.js';
import type { BuildContext, Component } from './component.js';
import type { DebianPackageComponent } from './debian-package.js';
import { dependencyClosure, packageFiles, parseDpkgStatus } from './dpkg.js';
import type { GoModuleComponent } from './go-module.js';
import type { GoSourceComponent } from './go-source.js';
import { cacheKey, requireBuilt } from './store.js';

/** kind's `clean-install` list, less storage-e2e and rootless packages (see the module comment). */
export const BASE_PACKAGES = [
  'systemd',
  'conntrack',
  'iptables',
  'nftables',
  'iproute2',
  'ethtool',
  'util-linux',
  'mount',
  'kmod',
  'libseccomp2',
  'pigz',
  'e2fsprogs',
  'bash',
  'ca-certificates',
  'curl',
  'jq',
  'procps',
] as const;

/** The packages kube-proxy's image is made of (with their dependency closure). */
export const NETFILTER_PACKAGES = ['iptables', 'nftables', 'conntrack'] as const;

const CNI_PLUGINS = ['host-local', 'loopback', 'ptp', 'portmap'] as const;

export const DEFAULT_DEBIAN_MIRROR = 'http://deb.debian.org/debian';

export function debianMirror(): string {
  return process.env['RETURNPATH_DEBIAN_MIRROR'] || DEFAULT_DEBIAN_MIRROR;
}

/** kind's containerd config with the setting this machine forces; throws if kind's file changed shape. */
export function forceRestrictOomScoreAdj(config: string): string {
  const re = /^(\s*restrict_oom_score_adj\s*=\s*)false\s*$/m;
  if (!re.test(config))
    throw new Error('kind containerd config: no "restrict_oom_score_adj = false" line to change');
  return config.replace(re, '$1true');
}

/** kind's cri-base.json: `ctr oci spec` plus the mount-product-files hook, without rlimits. */
export function criBaseSpec(ociSpec: string): string {
  const spec = JSON.parse(ociSpec) as { hooks?: { createContainer?: { path: string }[] }; process?: object };
  spec.hooks ??= {};
  spec.hooks.createContainer = [
    ...(spec.hooks.createContainer ?? []),
    { path: '/kind/bin/mount-product-files.sh' },
  ];
  if (spec.process) delete (spec.process as { rlimits?: unknown }).rlimits;
  return JSON.stringify(spec, null, 2) + '\n';
}

export interface KindBaseDeps {
  suite: string;
  kind: GoModuleComponent;
  engine: GoModuleComponent;
  runc: GoSourceComponent;
  cniPlugins: DebianPackageComponent;
}

export class KindBaseImage implements Component {
  readonly name = 'kind-base';
  readonly description: string;
  readonly files = ['rootfs.tar', 'netfilter.tar', 'base.json'] as const;
  readonly coldBuildHint = '2-5 min (debootstrap downloads about 60 MB)';
  readonly dependencies: readonly Component[];

  constructor(readonly d: KindBaseDeps) {
    this.description = `kind's images/base root filesystem on Debian ${d.suite} (debootstrap), containerd, runc, CNI plugins`;
    this.dependencies = [d.kind, d.engine, d.runc, d.cniPlugins];
  }

  version(): Promise<string> {
    return this.d.kind.version();
  }

  async recipe(): Promise<string> {
    const deps = await Promise.all(
      this.dependencies.map(async (c) => `${c.name}:${(await cacheKey(c)).hash}`),
    );
    return JSON.stringify({
      suite: this.d.suite,
      packages: BASE_PACKAGES,
      netfilter: NETFILTER_PACKAGES,
      cni: CNI_PLUGINS,
      deps,
    });
  }

  async build(ctx: BuildContext): Promise<void> {
    if (process.getuid?.() !== 0)
      throw new EnvironmentError('building the kind base image needs root (debootstrap)');
    await ctx.run(['debootstrap', '--version'], { what: 'debootstrap' }).catch(() => {
      throw new EnvironmentError('the kind base image needs debootstrap: apt-get install debootstrap');
    });
    const kindDir = (await requireBuilt(this.d.kind)).dir;
    const engineDir = (await requireBuilt(this.d.engine)).dir;
    const runcDir = (await requireBuilt(this.d.runc)).dir;
    const cniDir = (await requireBuilt(this.d.cniPlugins)).dir;
    const root = join(ctx.workDir, 'rootfs');
    const r = (p: string): string => join(root, p);

    ctx.log(`debootstrap ${this.d.suite} from ${debianMirror()}`);
    await ctx
      .run(
        [
          'debootstrap',
          '--variant=minbase',
          `--include=${BASE_PACKAGES.join(',')}`,
          this.d.suite,
          root,
          debianMirror(),
        ],
        { what: 'debootstrap' },
      )
      .catch((e: unknown) => {
        throw new EnvironmentError(
          `debootstrap ${this.d.suite} failed (is ${debianMirror()} reachable? set RETURNPATH_DEBIAN_MIRROR): ${(e as Error).message.split('\n').slice(-3).join(' | ')}`,
        );
      });
    // clean-install: no package caches or lists in the image.
    await emptyDir(r('var/cache/apt/archives'), (n) => n.endsWith('.deb'));
    await emptyDir(r('var/lib/apt/lists'), (n) => n !== 'partial' && n !== 'lock');

    // COPY files/... with the Dockerfile's modes: scripts and directories 0755, the rest 0644.
    const files = join(kindDir, 'base-files');
    await copyTree(files, root, (rel) => rel.startsWith('usr/local/bin/') || rel.startsWith('kind/bin/'));
    await chmod(r('kind'), 0o755);

    // RUN: the Dockerfile's systemd clean-up.
    await rm(r('lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service'), { force: true });
    await emptyDir(r('lib/systemd/system/multi-user.target.wants'), () => true);
    for (const d of await readdir(r('etc/systemd/system')).catch(() => [] as string[]))
      if (d.endsWith('.wants')) await emptyDir(r(`etc/systemd/system/${d}`), () => true);
    await emptyDir(r('lib/systemd/system/local-fs.target.wants'), () => true);
    await emptyDir(
      r('lib/systemd/system/sockets.target.wants'),
      (n) => n.includes('udev') || n.includes('initctl'),
    );
    await emptyDir(r('lib/systemd/system/basic.target.wants'), () => true);
    await writeFile(
      r('etc/systemd/journald.conf'),
      (await readFile(r('etc/systemd/journald.conf'), 'utf8')) + 'ReadKMsg=no\n',
    );
    await rm(r('sbin/init'), { force: true });
    await symlink('/usr/lib/systemd/systemd', r('sbin/init'));
    await ctx.run(
      [
        'chroot',
        root,
        'systemctl',
        'enable',
        'kubelet.service',
        'containerd.service',
        'undo-mount-hacks.service',
      ],
      {
        what: 'systemctl enable',
      },
    );
    await ctx.run(['chroot', root, 'systemctl', 'mask', 'systemd-binfmt.service'], {
      what: 'systemctl mask',
    });
    await mkdir(r('etc/kubernetes/manifests'), { recursive: true });

    // The build stages' binaries.
    for (const b of ['containerd', 'ctr', 'containerd-shim-runc-v2'])
      await install(join(engineDir, 'bin', b), r(`usr/local/bin/${b}`));
    await install(join(runcDir, 'bin/runc'), r('usr/local/sbin/runc'));
    await mkdir(r('opt/cni/bin'), { recursive: true });
    for (const p of CNI_PLUGINS) await install(join(cniDir, p), r(`opt/cni/bin/${p}`));
    const spec = await ctx.run([join(engineDir, 'bin/ctr'), 'oci', 'spec'], { what: 'ctr oci spec' });
    await writeFile(r('etc/containerd/cri-base.json'), criBaseSpec(spec.stdout));
    await chmod(r('etc/containerd/cri-base.json'), 0o644);
    const cfg = r('etc/containerd/config.toml');
    await writeFile(cfg, forceRestrictOomScoreAdj(await readFile(cfg, 'utf8')));

    // kube-proxy's image: the netfilter tools and what they need, nothing else.
    const status = parseDpkgStatus(await readFile(r('var/lib/dpkg/status'), 'utf8'));
    const closure = dependencyClosure(status, NETFILTER_PACKAGES);
    const paths = new Set<string>();
    for (const name of closure) for (const p of await packageFiles(root, status.get(name)!)) paths.add(p);
    const entries = await canonicalEntries(root, [...paths, ...(await alternativesFor(root, paths))]);
    await writeFile(join(ctx.workDir, 'netfilter.list'), entries.join('\n') + '\n');
    await ctx.run(
      [
        'tar',
        '--numeric-owner',
        '--no-recursion',
        '-C',
        root,
        '-cf',
        join(ctx.outDir, 'netfilter.tar'),
        '-T',
        join(ctx.workDir, 'netfilter.list'),
      ],
      { what: 'tar netfilter' },
    );

    await ctx.run(['tar', '--numeric-owner', '-C', root, '-cf', join(ctx.outDir, 'rootfs.tar'), '.'], {
      what: 'tar rootfs',
    });
    const installed = [...status.values()].map((p) => p.name).sort();
    await writeFile(
      join(ctx.outDir, 'base.json'),
      JSON.stringify(
        { suite: this.d.suite, kind: await this.version(), packages: installed, netfilter: closure },
        null,
        2,
      ) + '\n',
    );
    ctx.log(`root filesystem: ${installed.length} packages; kube-proxy base: ${closure.join(' ')}`);
  }
}

async function install(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  await copyFile(from, to);
  await chmod(to, 0o755);
}

async function emptyDir(dir: string, which: (name: string) => boolean): Promise<void> {
  for (const n of await readdir(dir).catch(() => [] as string[]))
    if (which(n)) await rm(join(dir, n), { force: true, recursive: true });
}

/** Copies a tree: directories 0755, files 0644, or 0755 where `executable(relative path)`. */
async function copyTree(
  from: string,
  to: string,
  executable: (rel: string) => boolean,
  rel = '',
): Promise<void> {
  for (const e of await readdir(join(from, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      await mkdir(join(to, p), { recursive: true });
      await copyTree(from, to, executable, p);
    } else if (e.isFile()) {
      await copyFile(join(from, p), join(to, p));
      await chmod(join(to, p), executable(p) ? 0o755 : 0o644);
    }
  }
}

/**
 * Paths update-alternatives made for files in `paths` (not in dpkg's file lists): the
 * /etc/alternatives link and the command's link in a bin directory (iptables -> iptables-nft).
 */
async function alternativesFor(root: string, paths: Set<string>): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(join(root, 'etc/alternatives')).catch(() => [] as string[])) {
    const target = await readlink(join(root, 'etc/alternatives', name)).catch(() => undefined);
    if (!target || !paths.has(target)) continue;
    out.push(`/etc/alternatives/${name}`);
    for (const bin of ['/usr/sbin', '/usr/bin'])
      if ((await readlink(join(root, bin, name)).catch(() => '')) === `/etc/alternatives/${name}`)
        out.push(`${bin}/${name}`);
  }
  return out;
}

/**
 * Archive entries for absolute paths inside `root`: each resolved through the merged-/usr links
 * (/lib -> usr/lib) to where it really is, with its parent directories, the links themselves,
 * and /tmp. Relative, sorted, parents first.
 */
async function canonicalEntries(root: string, paths: readonly string[]): Promise<string[]> {
  const out = new Set<string>(['tmp']);
  for (const top of ['bin', 'sbin', 'lib', 'lib64'])
    if ((await readlink(join(root, top)).catch(() => undefined)) !== undefined) out.add(top);
  for (const p of paths) {
    const full = join(root, p);
    if (
      !(await access(full).then(
        () => true,
        () =>
          readlink(full).then(
            () => true,
            () => false,
          ),
      ))
    )
      continue;
    const parent = await realpath(dirname(full)).catch(() => undefined);
    if (!parent || (parent !== root && !parent.startsWith(`${root}/`))) continue;
    const rel = relative(root, join(parent, p.split('/').pop()!));
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) out.add(parts.slice(0, i).join('/'));
  }
  return [...out].sort();
}
