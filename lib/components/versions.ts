/**
 * The one place that pins every external component returnpath builds or uses. Changing a version
 * here changes the cache key, so the next `returnpath components build` builds it anew.
 */
export const VERSIONS = {
  /** k8s.io/kubernetes: kube-apiserver, kube-controller-manager, kube-proxy (and kind's node binaries). */
  kubernetes: 'v1.36.3',
  /**
   * The Kubernetes in the kind node image. Stays on 1.36.x whatever `kubernetes` moves to: this
   * machine has cgroup v1, which newer kubelets may refuse outright. When equal to `kubernetes`,
   * both share one build.
   */
  kindKubernetes: 'v1.36.3',
  /** go.etcd.io/etcd/server/v3 (also kind's etcd image: kubeadm 1.36 expects 3.6.8-0). */
  etcd: 'v3.6.8',
  /** github.com/aws/amazon-vpc-cni-k8s: the current plugin and node setup. */
  vpcCni: 'v1.23.2',
  /** The newest release at or below v1.7 that builds with the machine's Go (rule 1536 per VPC CIDR). */
  vpcCniLegacy: 'v1.7.10',
  /** Debian's containernetworking-plugins (ptp, bridge, host-local, ...): the generic CNI. */
  cniPluginsDebianPackage: 'containernetworking-plugins',
  /** github.com/moby/moby/v2: dockerd and docker-proxy (with containerd from its module graph). */
  moby: 'v2.0.0-beta.24',
  /** github.com/opencontainers/runc (host engine and kind nodes). */
  runc: 'v1.3.3',
  /** github.com/docker/cli: the docker client kind drives (API 1.56, as moby v2.0.0-beta.24). */
  dockerCli: 'v29.8.2',
  /** sigs.k8s.io/kind: the CLI and its node image recipe (images/base). */
  kind: 'v0.33.0',
  /** github.com/coredns/coredns: kubeadm 1.36's CoreDNSVersion. */
  coredns: 'v1.14.2',
  /** The Debian suite of the kind node image's root filesystem (debootstrap). */
  kindNodeDebianSuite: 'bookworm',
} as const;

/** The oldest Go toolchain the Go builds accept (the VPC CNI's go.mod asks for 1.26.6). */
export const GO_MIN_VERSION = '1.26.6';
