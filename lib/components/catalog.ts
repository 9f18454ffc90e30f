/** Every external component returnpath builds or uses, with its recipe. Versions come from versions.ts. */
import { ValidationError } from '../errors.js';
import type { Component } from './component.js';
import { DebianPackageComponent } from './debian-package.js';
import { downloadedGoMod, GoModuleComponent } from './go-module.js';
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

export const kubernetes = new GoModuleComponent({
  name: 'kubernetes',
  description: 'kube-apiserver, kube-controller-manager and kube-proxy from k8s.io/kubernetes',
  version: VERSIONS.kubernetes,
  require: { 'k8s.io/kubernetes': VERSIONS.kubernetes },
  goModExtra: async (ctx, env) =>
    stagingReplaces(
      await downloadedGoMod(ctx, env, 'k8s.io/kubernetes', VERSIONS.kubernetes),
      VERSIONS.kubernetes,
    ),
  binaries: ['kube-apiserver', 'kube-controller-manager', 'kube-proxy'].map((b) => ({
    pkg: `k8s.io/kubernetes/cmd/${b}`,
    out: b,
  })),
  ldflags: kubernetesLdflags(VERSIONS.kubernetes),
  coldBuildHint: '7-10 min on 2 cores',
});

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

export const COMPONENTS: readonly Component[] = [cniPlugins, vpcCni, vpcCniLegacy, etcd, kubernetes];

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
