/**
 * The real kube-proxy's configuration, as EKS's kube-proxy add-on configures it, with the lab's
 * few deviations named.
 *
 * Sources:
 * - The add-on's DaemonSet runs `kube-proxy --v=2 --config=/var/lib/kube-proxy-config/config
 *   --hostname-override=$(NODE_NAME)` with the `kube-proxy-config` ConfigMap mounted there
 *   (eksctl-io/eksctl, pkg/addons/default/testdata/sample-1.25.json, an EKS cluster's objects).
 * - That ConfigMap, as EKS provisions it: copied from a cluster into cookpad/terraform-aws-eks
 *   (modules/cluster/addons/kube-proxy.yaml at 8a99758, PR #124: "pulls in the eks provisioned
 *   config-map and changes metricsBindAddress from 127.0.0.1:10249 to 0.0.0.0:10249", which the
 *   add-on itself has used since, as AWS's knowledge-center article "How do I configure ipvs
 *   kube-proxy mode in Amazon EKS?" shows with the same fields): `mode: iptables`, `clusterCIDR: ""`,
 *   no `detectLocalMode`, `masqueradeBit: 14`, `syncPeriod: 30s`, `minSyncPeriod: 0s`,
 *   `healthzBindAddress: 0.0.0.0:10256`, `metricsBindAddress: 0.0.0.0:10249`,
 *   `nodePortAddresses: null`, conntrack `maxPerCore: 32768, min: 131072`, `oomScoreAdj: -998`.
 * - Why EKS leaves clusterCIDR empty (AWS, awslabs/amazon-eks-ami#152): on EKS it would be the VPC
 *   CIDR, which can grow after the cluster is created. With detectLocalMode defaulting to
 *   ClusterCIDR and no cluster CIDR, kube-proxy uses its no-op local-traffic detector
 *   (`cmd/kube-proxy/app/server_linux.go` getLocalDetectors): EKS's default is detector `none`.
 *
 * Deviations (the lab shares one kernel): conntrack values are 0 and
 * `iptables.localhostNodePorts` is false, so kube-proxy writes no sysctl (EKS's kube-proxy sets
 * nf_conntrack_max and its TCP timeouts, and `route_localnet=1` for localhost node ports; with
 * false it adds `! -d 127.0.0.0/8` to the node-port jump, as the emulation does). `minSyncPeriod`
 * 0s is kube-proxy's "use the default", 1 s since v1.28.
 */
import { stringify } from 'yaml';

export type DetectLocal = 'none' | 'clusterCIDR';
export type ProxyMode = 'iptables' | 'nftables';

/** EKS's default detector: no clusterCIDR in the add-on's configuration. */
export const EKS_DETECT_LOCAL: DetectLocal = 'none';

export const HEALTHZ_PORT = 10256;
export const METRICS_PORT = 10249;

export interface KubeProxyConfigOptions {
  nodeName: string;
  kubeconfig: string;
  mode: ProxyMode;
  detectLocal: DetectLocal;
  /** The cluster CIDR (used only with detectLocal clusterCIDR). */
  clusterCIDR: string;
}

/** The KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) for one node. */
export function kubeProxyConfiguration(o: KubeProxyConfigOptions): Record<string, unknown> {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    bindAddress: '0.0.0.0',
    clientConnection: {
      acceptContentTypes: '',
      burst: 10,
      contentType: 'application/vnd.kubernetes.protobuf',
      kubeconfig: o.kubeconfig,
      qps: 5,
    },
    // EKS: "" (no local-traffic detector); the lab's other setting: the topology's cluster CIDR.
    clusterCIDR: o.detectLocal === 'clusterCIDR' ? o.clusterCIDR : '',
    ...(o.detectLocal === 'clusterCIDR' && { detectLocalMode: 'ClusterCIDR' }),
    configSyncPeriod: '15m0s',
    // Lab: 0 everywhere, so kube-proxy leaves the (shared) conntrack sysctls alone.
    conntrack: {
      maxPerCore: 0,
      min: 0,
      tcpCloseWaitTimeout: '0s',
      tcpEstablishedTimeout: '0s',
      udpStreamTimeout: '0s',
      udpTimeout: '0s',
    },
    enableProfiling: false,
    healthzBindAddress: `0.0.0.0:${HEALTHZ_PORT}`,
    hostnameOverride: o.nodeName,
    iptables: {
      masqueradeAll: false,
      masqueradeBit: 14,
      minSyncPeriod: '0s',
      syncPeriod: '30s',
      // Lab: no route_localnet=1 on the node.
      localhostNodePorts: false,
    },
    nftables: { masqueradeAll: false, masqueradeBit: 14, minSyncPeriod: '0s', syncPeriod: '30s' },
    metricsBindAddress: `0.0.0.0:${METRICS_PORT}`,
    mode: o.mode,
    nodePortAddresses: null,
    oomScoreAdj: -998,
    portRange: '',
  };
}

export function renderKubeProxyConfiguration(o: KubeProxyConfigOptions): string {
  return stringify(kubeProxyConfiguration(o));
}
