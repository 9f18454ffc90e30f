/** Every external component returnpath builds or uses, with its recipe. Versions come from versions.ts. */
import { ValidationError } from '../errors.js';
import type { Component } from './component.js';
import { DebianPackageComponent } from './debian-package.js';
import { downloadedGoMod, GoModuleComponent } from './go-module.js';
import { GoSourceComponent } from './go-source.js';
import { KindBaseImage } from './kind-base-image.js';
import { KindNodeImage } from './kind-node-image.js';
import { PauseComponent } from './pause.js';
import { VERSIONS } from './versions.js';

const VPC_CNI = 'github.com/aws/amazon-vpc-cni-k8s';

/**
 * k8s.io/kubernetes publishes its staging modules (k8s.io/api, client-go, ...) at v0.<minor>.<patch>
 * and points at them with `=> ./staging/...` replaces a wrapper cannot use: the same replaces,
 * aimed at the published versions, generated from that version's own go.mod.
 * k8s.io/sample-cli-plugin is not on the module proxy and no binary needs it.
 */
export function stagingReplaces(goMod: string, kubernetesVersion: string): string[] {
  const staging = `v0.${kubernetesVersion.replace(/^v1\./, '')}`;
  return [...goMod.matchAll(/^\s*(\S+)\s+=>\s+\.\/staging\/\S+/gm)]
    .map((m) => m[1]!)
    .filter((mod) => mod !== 'k8s.io/sample-cli-plugin')
    .map((mod) => `replace ${mod} => ${mod} ${staging}`);
}

function kubernetesLdflags(version: string): string[] {
  const [major, minor] = version.replace(/^v/, '').split('.');
  return [
    `-X k8s.io/component-base/version.gitVersion=${version}`,
    `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
    '-X k8s.io/component-base/version.gitTreeState=clean',
  ];
}

/** The Kubernetes binaries returnpath runs: the lab's control plane and kube-proxy, and kind's node. */
export const KUBERNETES_BINARIES = [
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kube-proxy',
  'kubelet',
  'kubeadm',
  'kubectl',
] as const;

const kubernetesBuilds = new Map<string, GoModuleComponent>();

/** One build of k8s.io/kubernetes per version (the lab's and kind's share it when the versions match). */
export function kubernetesComponent(version: string): GoModuleComponent {
  let c = kubernetesBuilds.get(version);
  if (!c) {
    c = new GoModuleComponent({
      name: 'kubernetes',
      description: `${KUBERNETES_BINARIES.join(', ')} from k8s.io/kubernetes`,
      version,
      require: { 'k8s.io/kubernetes': version },
      goModExtra: async (ctx, env) =>
        stagingReplaces(await downloadedGoMod(ctx, env, 'k8s.io/kubernetes', version), version),
      binaries: KUBERNETES_BINARIES.map((b) => ({ pkg: `k8s.io/kubernetes/cmd/${b}`, out: b })),
      ldflags: kubernetesLdflags(version),
      coldBuildHint: '20 min on 2 cores',
    });
    kubernetesBuilds.set(version, c);
  }
  return c;
}

export const kubernetes = kubernetesComponent(VERSIONS.kubernetes);
/** Kubernetes for the kind node image (1.36.x here: cgroup v1); the same object as `kubernetes` when pinned alike. */
export const kindKubernetes = kubernetesComponent(VERSIONS.kindKubernetes);

export const etcd = new GoModuleComponent({
  name: 'etcd',
  description: 'etcd server from go.etcd.io/etcd/server/v3',
  version: VERSIONS.etcd,
  require: { 'go.etcd.io/etcd/server/v3': VERSIONS.etcd },
  binaries: [{ pkg: 'go.etcd.io/etcd/server/v3', out: 'etcd' }],
  coldBuildHint: '1 min',
});

export const vpcCni = new GoModuleComponent({
  name: 'vpc-cni',
  description: `the AWS VPC CNI plugin (aws-cni, egress-cni) from ${VPC_CNI}`,
  version: VERSIONS.vpcCni,
  require: { [VPC_CNI]: VERSIONS.vpcCni },
  binaries: [
    { pkg: `${VPC_CNI}/cmd/routed-eni-cni-plugin`, out: 'aws-cni' },
    { pkg: `${VPC_CNI}/cmd/egress-cni-plugin`, out: 'egress-cni' },
    { pkg: './vpc-cni-node', out: 'vpc-cni-node' },
    { pkg: './cni-exec', out: 'cni-exec' },
  ],
  localPackages: ['vpc-cni-node', 'cni-exec'],
  copyFromModule: [[VPC_CNI, 'rpc/rpc.proto', 'rpc/rpc.proto']],
  coldBuildHint: '5 min on 2 cores',
});

export const vpcCniLegacy = new GoModuleComponent({
  name: 'vpc-cni-legacy',
  description: `the AWS VPC CNI plugin before v1.8 (aws-cni) from ${VPC_CNI}`,
  version: VERSIONS.vpcCniLegacy,
  require: { [VPC_CNI]: VERSIONS.vpcCniLegacy },
  binaries: [
    { pkg: `${VPC_CNI}/cmd/routed-eni-cni-plugin`, out: 'aws-cni' },
    { pkg: './vpc-cni-node-legacy', out: 'vpc-cni-node' },
    { pkg: './cni-exec', out: 'cni-exec' },
  ],
  localPackages: ['vpc-cni-node-legacy', 'cni-exec'],
  copyFromModule: [[VPC_CNI, 'rpc/rpc.proto', 'rpc/rpc.proto']],
  coldBuildHint: '1 min',
});

export const cniPlugins = new DebianPackageComponent(
  'cni-plugins',
  'containernetworking-plugins (ptp, bridge, host-local, portmap, tuning, loopback): the generic CNI',
  VERSIONS.cniPluginsDebianPackage,
  '/usr/lib/cni',
  ['ptp', 'bridge', 'host-local', 'portmap', 'tuning', 'loopback'],
);

const strip = (v: string): string => v.replace(/^v/, '');

/** dockerd and docker-proxy from moby v2, with containerd, its runc shim and ctr from the same module graph. */
export const engine = new GoModuleComponent({
  name: 'engine',
  description: 'dockerd, docker-proxy (github.com/moby/moby/v2), containerd, containerd-shim-runc-v2, ctr',
  version: VERSIONS.moby,
  require: { 'github.com/moby/moby/v2': VERSIONS.moby },
  binaries: [
    { pkg: 'github.com/moby/moby/v2/cmd/dockerd', out: 'dockerd' },
    { pkg: 'github.com/moby/moby/v2/cmd/docker-proxy', out: 'docker-proxy' },
    { pkg: 'github.com/containerd/containerd/v2/cmd/containerd', out: 'containerd' },
    {
      pkg: 'github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2',
      out: 'containerd-shim-runc-v2',
    },
    { pkg: 'github.com/containerd/containerd/v2/cmd/ctr', out: 'ctr' },
  ],
  // As kind builds containerd: no optional snapshotters (btrfs needs cgo anyway).
  tags: ['no_btrfs', 'no_devmapper'],
  ldflags: [`-X github.com/moby/moby/v2/dockerversion.Version=${strip(VERSIONS.moby)}`],
  coldBuildHint: '10-15 min on 2 cores',
});

export const runc = new GoSourceComponent({
  name: 'runc',
  description: 'runc from github.com/opencontainers/runc (cgo, seccomp, static)',
  version: VERSIONS.runc,
  module: 'github.com/opencontainers/runc',
  // Its go.mod replaces go-selinux with ./internal/third_party/selinux, a nested module the
  // module zip leaves out: build against the go-selinux release its go.mod requires.
  goModEdits: [['-dropreplace', 'github.com/opencontainers/selinux']],
  mod: 'mod',
  binaries: [{ pkg: '.', out: 'runc' }],
  tags: ['seccomp', 'urfave_cli_no_docs', 'netgo', 'osusergo'],
  ldflags: [`-X main.version=${strip(VERSIONS.runc)}`, '-extldflags', '-static'],
  cgo: { pkgConfig: [{ name: 'libseccomp', debianPackage: 'libseccomp-dev' }] },
  coldBuildHint: '1-2 min',
});

export const dockerCli = new GoSourceComponent({
  name: 'docker-cli',
  description: 'the docker client from github.com/docker/cli (its vendor.mod requirements, as published)',
  version: VERSIONS.dockerCli,
  module: 'github.com/docker/cli',
  moduleVersion: `${VERSIONS.dockerCli}+incompatible`,
  // CalVer, no go.mod: vendor.mod and vendor.sum pin its requirements (the module zip has no vendor/ sources).
  goModFrom: { mod: 'vendor.mod', sum: 'vendor.sum' },
  mod: 'mod',
  binaries: [{ pkg: './cmd/docker', out: 'docker' }],
  ldflags: [`-X github.com/docker/cli/cli/version.Version=${strip(VERSIONS.dockerCli)}`],
  coldBuildHint: '2-3 min',
});

export const kind = new GoModuleComponent({
  name: 'kind',
  description: "the kind CLI (sigs.k8s.io/kind) and its node image's base files (images/base/files)",
  version: VERSIONS.kind,
  require: { 'sigs.k8s.io/kind': VERSIONS.kind },
  binaries: [{ pkg: 'sigs.k8s.io/kind', out: 'kind' }],
  copyFromModule: [['sigs.k8s.io/kind', 'images/base/files', 'base-files']],
  coldBuildHint: '1 min',
});

export const coredns = new GoModuleComponent({
  name: 'coredns',
  description: 'CoreDNS from github.com/coredns/coredns (the cluster DNS in kind nodes)',
  version: VERSIONS.coredns,
  require: { 'github.com/coredns/coredns': VERSIONS.coredns },
  binaries: [{ pkg: 'github.com/coredns/coredns', out: 'coredns' }],
  coldBuildHint: '7-13 min on 2 cores',
});

export const pause = new PauseComponent(VERSIONS.kindKubernetes);

export const kindBase = new KindBaseImage({
  suite: VERSIONS.kindNodeDebianSuite,
  kind,
  engine,
  runc,
  cniPlugins,
});

export const kindNode = new KindNodeImage({
  kubernetesVersion: VERSIONS.kindKubernetes,
  base: kindBase,
  kubernetes: kindKubernetes,
  etcd,
  coredns,
  pause,
  engine,
  runc,
  dockerCli,
});

/** What a kind cluster on returnpath's engine needs, dependencies first. */
export const KIND_COMPONENTS: readonly Component[] = [
  kindKubernetes,
  engine,
  runc,
  dockerCli,
  kind,
  coredns,
  pause,
  kindBase,
  kindNode,
];

export const COMPONENTS: readonly Component[] = [
  ...new Set([cniPlugins, vpcCni, vpcCniLegacy, etcd, kubernetes, ...KIND_COMPONENTS]),
];

/** Every catalogued component with this name (two when the lab and kind pin different Kubernetes versions). */
export function componentsNamed(name: string): Component[] {
  const found = COMPONENTS.filter((x) => x.name === name);
  if (found.length === 0) componentNamed(name);
  return found;
}

export function componentNamed(name: string): Component {
  const c = COMPONENTS.find((x) => x.name === name);
  if (!c)
    throw new ValidationError('component', [
      {
        path: 'name',
        value: name,
        message: `names no component; known: ${COMPONENTS.map((x) => x.name).join(', ')}`,
      },
    ]);
  return c;
}
