/**
 * The one place that pins every external component returnpath builds or uses. Changing a version
 * here changes the cache key, so the next `returnpath components build` builds it anew.
 */
export const VERSIONS = {
  /** k8s.io/kubernetes: kube-apiserver, kube-controller-manager, kube-proxy (and kind's node binaries). */
  kubernetes: 'v1.36.3',
  /** go.etcd.io/etcd/server/v3. */
  etcd: 'v3.6.8',
  /** github.com/aws/amazon-vpc-cni-k8s: the current plugin and node setup. */
  vpcCni: 'v1.23.2',
  /** The newest release at or below v1.7 that builds with the machine's Go (rule 1536 per VPC CIDR). */
  vpcCniLegacy: 'v1.7.10',
  /** Debian's containernetworking-plugins (ptp, bridge, host-local, ...): the generic CNI. */
  cniPluginsDebianPackage: 'containernetworking-plugins',
} as const;

/** The oldest Go toolchain the Go builds accept (the VPC CNI's go.mod asks for 1.26.6). */
export const GO_MIN_VERSION = '1.26.6';
