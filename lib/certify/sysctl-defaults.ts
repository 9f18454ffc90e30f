/**
 * What the certification assumes when an image does not set a sysctl, and which keys it replays.
 * One table, with sources, so a certificate can say where every value came from.
 */

/** Per-interface knobs the lab acts on (lib/model/schema.ts ConfSysctls). */
export const CONF_KNOBS = [
  'rp_filter',
  'accept_local',
  'src_valid_mark',
  'route_localnet',
  'forwarding',
  'send_redirects',
] as const;
export type ConfKnob = (typeof CONF_KNOBS)[number];

export interface KernelDefault {
  /** `sysctl -a` name; `<level>` stands for all, default and every interface. */
  key: string;
  value: string;
  source: string;
}

const DEVINET = 'net/ipv4/devinet.c (ipv4_devconf, ipv4_devconf_dflt)';
const IP_SYSCTL = 'Documentation/networking/ip-sysctl.rst';

/**
 * Kernel defaults in a fresh network namespace (devconf_inherit_init_net=2, or a kernel that was never
 * configured). Everything here is the same for conf/all, conf/default and every interface.
 */
export const KERNEL_DEFAULTS: readonly KernelDefault[] = [
  {
    key: 'net.ipv4.ip_forward',
    value: '0',
    source: `${IP_SYSCTL}: "ip_forward - BOOLEAN ... 0 - disabled (default)"`,
  },
  {
    key: 'net.ipv4.conf.<level>.rp_filter',
    value: '0',
    source: `${IP_SYSCTL}: "Default value is 0. Note that some distributions enable it in startup scripts."; ${DEVINET} does not set it`,
  },
  {
    key: 'net.ipv4.conf.<level>.accept_local',
    value: '0',
    source: `${IP_SYSCTL}: "default FALSE"; ${DEVINET} does not set it`,
  },
  {
    key: 'net.ipv4.conf.<level>.src_valid_mark',
    value: '0',
    source: `${IP_SYSCTL}: "default FALSE"; ${DEVINET} does not set it`,
  },
  {
    key: 'net.ipv4.conf.<level>.route_localnet',
    value: '0',
    source: `${IP_SYSCTL}: "default FALSE"; ${DEVINET} does not set it`,
  },
  {
    key: 'net.ipv4.conf.<level>.forwarding',
    value: '0',
    source: `follows ip_forward: writing ip_forward sets conf/all, conf/default and every interface (devinet.c inet_forward_change)`,
  },
  {
    key: 'net.ipv4.conf.<level>.send_redirects',
    value: '1',
    source: `${DEVINET}: [IPV4_DEVCONF_SEND_REDIRECTS - 1] = 1`,
  },
];

/** The kernel default of a knob (same at every level) or of a global key; undefined when not known. */
export function kernelDefault(key: string): string | undefined {
  const conf = /^net\.ipv4\.conf\.[^.]+\.(\w+)$/.exec(key);
  const generic = conf ? `net.ipv4.conf.<level>.${conf[1]}` : key;
  return KERNEL_DEFAULTS.find((d) => d.key === generic)?.value ?? GLOBAL_DEFAULTS[key] ?? undefined;
}

/**
 * Global net.ipv4 keys a certification replays (as `other`), with their default in a fresh network
 * namespace: they shape how connections are set up, kept or reset, and each is writable inside a
 * namespace. Values read with `unshare -n sysctl -n` on kernel 6.18; null where the default depends on
 * memory or kernel version (tcp_max_tw_buckets and tcp_max_syn_backlog scale with memory;
 * tcp_challenge_ack_limit was 1000 before 6.0). Left out on purpose: conf.* and ip_forward (modelled
 * separately); neigh.* (absent in a non-initial namespace on many kernels; the lab uses permanent
 * neighbour entries); tcp_mem and udp_mem (global, absent in a namespace); read-only lists such as
 * tcp_available_congestion_control; tcp_congestion_control (depends on loadable modules).
 */
export const GLOBAL_DEFAULTS: Readonly<Record<string, string | null>> = Object.fromEntries(
  Object.entries({
    ip_local_port_range: '32768 60999',
    ip_local_reserved_ports: '',
    ip_nonlocal_bind: '0',
    ip_early_demux: '1',
    ip_default_ttl: '64',
    ip_no_pmtu_disc: '0',
    fwmark_reflect: '0',
    tcp_fwmark_accept: '0',
    tcp_l3mdev_accept: '0',
    udp_l3mdev_accept: '0',
    raw_l3mdev_accept: '1',
    tcp_syn_retries: '6',
    tcp_synack_retries: '5',
    tcp_syncookies: '1',
    tcp_timestamps: '1',
    tcp_sack: '1',
    tcp_tw_reuse: '2',
    tcp_max_tw_buckets: null,
    tcp_fin_timeout: '60',
    tcp_keepalive_time: '7200',
    tcp_keepalive_intvl: '75',
    tcp_keepalive_probes: '9',
    tcp_retries2: '15',
    tcp_rfc1337: '0',
    tcp_ecn: '2',
    tcp_max_syn_backlog: null,
    tcp_abort_on_overflow: '0',
    tcp_challenge_ack_limit: null,
    tcp_mtu_probing: '0',
  }).map(([k, v]) => [`net.ipv4.${k}`, v]),
);
export const GLOBAL_DEFAULTS_SOURCE = 'a fresh network namespace (`unshare -n sysctl -n KEY` on kernel 6.18)';

/** Keys replayed as NodeSysctls.other. */
export const REPLAYED_GLOBAL_KEYS: ReadonlySet<string> = new Set(Object.keys(GLOBAL_DEFAULTS));

/** Same value for the kernel: sysctl -a separates vector values with tabs, files with spaces. */
export function sameSysctlValue(a: string, b: string): boolean {
  return a.trim().split(/\s+/).join(' ') === b.trim().split(/\s+/).join(' ');
}

/**
 * A name vpc-cni would give a pod's host-side veth (`eni` + 11 hex digits), used to ask the sysctl.d
 * files what an interface created after boot gets: udev runs systemd-sysctl for every new interface.
 */
export const NEW_INTERFACE_PROBE = 'eni1a2b3c4d5e6';
