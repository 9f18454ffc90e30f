/**
 * The declarative topology spec (YAML or JSON), as zod schemas. Structural rules live here;
 * cross-references (overlaps, ownership, placement) are checked in validate.ts.
 */
import { z } from 'zod';
import { isCidr, isIpv4 } from './ip.js';

export const NAME = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
const name = z
  .string()
  .regex(
    NAME,
    'must be lowercase letters, digits and "-", 1-32 characters, starting and ending alphanumeric',
  );
const ifName = z.string().regex(/^eth([0-9]|1[0-5])$/, 'must be eth0 .. eth15');
const ipv4 = z.string().refine(isIpv4, 'must be a dotted-quad IPv4 address such as 10.0.1.10');
const cidr = z.string().refine(isCidr, 'must be an IPv4 CIDR with host bits clear, such as 10.0.0.0/16');
const port = z.number().int().min(1).max(65535);

const bit = z.union([z.literal(0), z.literal(1)]);
/** Sysctls under net.ipv4.conf.<level>. */
export const ConfSysctls = z.strictObject({
  rp_filter: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
  accept_local: bit.optional(),
  src_valid_mark: bit.optional(),
  route_localnet: bit.optional(),
  forwarding: bit.optional(),
  send_redirects: bit.optional(),
});
export type ConfSysctls = z.infer<typeof ConfSysctls>;

export const NodeSysctls = z.strictObject({
  /** net.ipv4.ip_forward; a Kubernetes node forwards. */
  ip_forward: bit.default(1),
  all: ConfSysctls.default({}),
  /** conf/default: seeds only interfaces created after it is set (the lab sets it before creating any). */
  default: ConfSysctls.default({}),
  /** Per interface: eth0, eth1, ... */
  interfaces: z.record(ifName, ConfSysctls).default({}),
  /**
   * Other net.* keys applied verbatim (certification replays these). What the kernel itself refuses
   * (a key this kernel lacks or does not keep per network namespace, a value out of range) is
   * reported by `lab up` with the key (exit 2).
   */
  other: z
    .record(
      z
        .string()
        .regex(
          /^net\.(ipv4|netfilter|core)(\.[a-z0-9_-]+)+$/,
          'must be a net.ipv4/net.netfilter/net.core key: dot-separated lowercase names, no empty part',
        ),
      z.union([
        z
          .string()
          .max(256)
          .regex(
            /^([A-Za-z0-9_.:,/+-]+([ \t]+[A-Za-z0-9_.:,/+-]+)*)?$/,
            'must be a value as sysctl takes it: numbers or words separated by spaces, no newline or control character',
          ),
        z.number().int('must be an integer (sysctls take no fractions)').min(-2147483648).max(4294967295),
      ]),
    )
    .default({}),
});
export type NodeSysctls = z.infer<typeof NodeSysctls>;

const vpcCniOptions = {
  /** AWS_VPC_K8S_CNI_EXTERNALSNAT */
  externalSNAT: z.boolean().default(false),
  /** AWS_VPC_CNI_NODE_PORT_SUPPORT */
  nodePortSupport: z.boolean().default(true),
  /** AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS */
  excludeSnatCidrs: z.array(cidr).default([]),
  /** AWS_EXTERNAL_SERVICE_CIDRS (rule 1535; v1.8 and later) */
  externalServiceCidrs: z.array(cidr).default([]),
  /** AWS_VPC_K8S_CNI_RANDOMIZESNAT: the SNAT rule's port selection (--random-fully, --random or neither). */
  randomizeSNAT: z.enum(['prng', 'hashrandom', 'none']).default('prng'),
  /** AWS_VPC_K8S_CNI_CONNMARK: the mark rule 1024 and the CONNMARK rules use. */
  connmark: z.number().int().min(1).max(0xffffffff).default(0x80),
  /** AWS_VPC_K8S_CNI_VETHPREFIX and the plugin's vethPrefix: host-side veth names (at most 4 characters). */
  vethPrefix: z
    .string()
    .regex(/^[a-z][a-z0-9]{0,3}$/, 'must be 1-4 lowercase letters or digits, starting with a letter')
    .default('eni'),
  /**
   * emulated: returnpath's own copy of the CNI's rules (lib/cni, fast, the default); real: the
   * upstream plugin and node setup, built from the Go module proxy (`returnpath components build`).
   */
  implementation: z.enum(['emulated', 'real']).default('emulated'),
  /** With implementation real: the version to run (default and only choice: the pinned one). */
  version: z.string().optional(),
  /**
   * With implementation real: a directory holding a build of your own
   * (`returnpath components build vpc-cni --source CHECKOUT --out DIR`) instead of the pinned one.
   */
  build: z.string().min(1).optional(),
};
export const CniSpec = z.discriminatedUnion('profile', [
  z.strictObject({ profile: z.literal('vpc-cni'), ...vpcCniOptions }),
  z.strictObject({ profile: z.literal('vpc-cni-legacy'), ...vpcCniOptions }),
  z.strictObject({
    profile: z.literal('eni-policy-routing'),
    /** Table of the first secondary ENI; seed 002 uses 1003 for eth1. */
    tableBase: z.number().int().min(2).max(250000).default(1002),
    /**
     * The seed's mark-based fix: traffic kube-proxy masquerades leaves through the primary
     * interface, and its replies are validated with the mark (src_valid_mark on the primary).
     */
    masqReturnFix: z.boolean().default(false),
  }),
  z.strictObject({ profile: z.literal('none') }),
  /**
   * Any CNI, called through the CNI protocol: a conflist (inline, or a JSON file relative to the
   * topology file) whose plugins are found in binDir. Each pod gets ADD with CNI_ARGS
   * `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=<pod>;IP=<the pod's address>`, and the
   * capability argument `ips` when a plugin declares it.
   */
  z.strictObject({
    profile: z.literal('plugin'),
    conflist: z.union([z.string().min(1), z.record(z.string(), z.unknown())]),
    binDir: z.string().min(1).default('/usr/lib/cni'),
    /** How long one plugin call may take. */
    timeoutSeconds: z.number().positive().max(600).default(30),
  }),
]);
export type CniSpec = z.infer<typeof CniSpec>;

export const EniSpec = z.strictObject({
  name: ifName,
  /** Subnet the ENI is attached to; defaults to the node's subnet. */
  subnet: name.optional(),
  /** The ENI's primary private address on the instance; null = the ENI carries no address (seed 002). */
  address: ipv4.nullable(),
  /** EC2 source/destination check: the fabric drops packets from this ENI whose source it does not own. */
  sourceDestCheck: z.boolean().default(true),
  /** Elastic IP: the internet gateway translates it 1:1 to `address` (public subnets only). */
  publicAddress: ipv4.optional(),
});

export const NodeSpec = z.strictObject({
  name,
  subnet: name,
  enis: z.array(EniSpec).min(1),
  cni: CniSpec.optional(),
  sysctls: NodeSysctls.default({ ip_forward: 1, all: {}, default: {}, interfaces: {}, other: {} }),
});

export const PodSpec = z.strictObject({
  name,
  node: name,
  /** The ENI whose secondary address the pod uses. */
  eni: ifName.default('eth0'),
  address: ipv4,
});

export const InternetClientSpec = z.strictObject({ name, address: ipv4 });

export const ServicePortSpec = z.strictObject({
  name: z
    .string()
    .regex(/^([a-z0-9-]{1,15})?$/)
    .default(''),
  protocol: z.enum(['TCP', 'UDP']).default('TCP'),
  port,
  targetPort: port,
  nodePort: z.number().int().min(30000).max(32767).optional(),
});

export const ServiceSpec = z.strictObject({
  namespace: name.default('default'),
  name,
  type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer']),
  clusterIP: ipv4,
  ports: z.array(ServicePortSpec).min(1),
  externalTrafficPolicy: z.enum(['Cluster', 'Local']).default('Cluster'),
  healthCheckNodePort: z.number().int().min(30000).max(32767).optional(),
  /** status.loadBalancer.ingress IPs that kube-proxy captures on the nodes (seed 002). */
  loadBalancerIPs: z.array(ipv4).default([]),
  /** Pod names backing the service, all ready. */
  endpoints: z.array(name).default([]),
});

export const HealthCheckSpec = z.strictObject({
  protocol: z.enum(['TCP', 'HTTP']).optional(),
  /** `traffic-port` or a port number. */
  port: z.union([z.literal('traffic-port'), port]).optional(),
  path: z.string().startsWith('/').default('/healthz'),
  intervalSeconds: z.number().min(0.1).max(300).default(10),
  timeoutSeconds: z.number().min(0.05).max(120).default(6),
  healthyThreshold: z.number().int().min(1).max(10).default(2),
  unhealthyThreshold: z.number().int().min(1).max(10).default(2),
});

export const TargetSpec = z.strictObject({
  /** instance target: a node name. */
  node: name.optional(),
  /** ip target: a pod name. */
  pod: name.optional(),
  port: port.optional(),
});

export const TargetGroupSpec = z.strictObject({
  name,
  targetType: z.enum(['instance', 'ip']),
  /** Derive targets and ports from a Service: `namespace/name:portName` (or `namespace/name`). */
  service: z
    .string()
    .regex(/^[a-z0-9-]+\/[a-z0-9-]+(:[a-z0-9-]*)?$/)
    .optional(),
  targets: z.array(TargetSpec).optional(),
  /** Defaults as AWS documents: instance on, ip (TCP) off. */
  preserveClientIp: z.boolean().optional(),
  healthCheck: HealthCheckSpec.optional(),
});

export const LoadBalancerSpec = z.strictObject({
  name,
  scheme: z.enum(['internal', 'internet-facing']).default('internal'),
  nodes: z
    .array(
      z.strictObject({
        zone: name,
        /** The NLB node's private address in a subnet of its zone. */
        address: ipv4,
        /** internet-facing: the public address the DNS name resolves to. */
        publicAddress: ipv4.optional(),
      }),
    )
    .min(1),
  crossZone: z.boolean().default(false),
  listeners: z
    .array(
      z.strictObject({
        port,
        protocol: z.enum(['TCP']).default('TCP'),
        targetGroup: name,
        /** 350 s on AWS (60-6000); the lab accepts small values for tests. */
        idleTimeoutSeconds: z.number().int().min(1).max(6000).default(350),
      }),
    )
    .min(1),
  targetGroups: z.array(TargetGroupSpec).min(1),
  /** How a node picks a target for a new flow. */
  hashing: z
    .strictObject({
      mode: z.enum(['5-tuple', 'random']).default('5-tuple'),
      seed: z.number().int().min(0).default(1),
    })
    .default({ mode: '5-tuple', seed: 1 }),
});

export const KubeProxySpec = z.strictObject({
  /**
   * kube-proxy's local-traffic detector. `none`: EKS's add-on (its configuration has no
   * clusterCIDR, so kube-proxy uses its no-op detector); `clusterCIDR`: traffic from
   * cluster.clusterCIDR is "local" (detectLocalMode ClusterCIDR). It decides two rules: the
   * masquerade of off-cluster traffic to a ClusterIP, and the short-cut that sends pod traffic to
   * a Local-policy Service's load balancer or node port to every endpoint.
   */
  detectLocal: z.enum(['none', 'clusterCIDR']).default('none'),
});
export type KubeProxySpec = z.infer<typeof KubeProxySpec>;

export const TopologySpec = z.strictObject({
  apiVersion: z.literal('returnpath/v1'),
  kind: z.literal('Topology'),
  metadata: z.strictObject({ name, description: z.string().optional() }),
  vpc: z.strictObject({
    cidrs: z.array(cidr).min(1),
    zones: z
      .array(
        z.strictObject({
          name,
          subnets: z.array(z.strictObject({ name, cidr, public: z.boolean().default(false) })).min(1),
        }),
      )
      .min(1),
  }),
  cluster: z
    .strictObject({
      /** The pod range: the VPC CIDR on EKS (pods take VPC addresses). Defaults to the first VPC CIDR. */
      clusterCIDR: cidr.optional(),
      serviceCIDR: cidr.default('172.20.0.0/16'),
      kubeProxy: KubeProxySpec.default({ detectLocal: 'none' }),
    })
    .default({ serviceCIDR: '172.20.0.0/16', kubeProxy: { detectLocal: 'none' } }),
  defaults: z.strictObject({ cni: CniSpec.optional() }).default({}),
  nodes: z.array(NodeSpec).min(1),
  pods: z.array(PodSpec).default([]),
  internet: z.strictObject({ clients: z.array(InternetClientSpec).default([]) }).default({ clients: [] }),
  services: z.array(ServiceSpec).default([]),
  loadBalancers: z.array(LoadBalancerSpec).default([]),
});
export type TopologySpec = z.infer<typeof TopologySpec>;
export type TopologyInput = z.input<typeof TopologySpec>;
