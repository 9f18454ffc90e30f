/**
 * The CNI stand-in for kind clusters made without kind's default CNI: the same plugin chain
 * kindnetd writes (ptp with host-local IPAM over the node's podCIDR, then portmap), using the
 * node image's /opt/cni/bin plugins, and the routes kindnetd would add: every other node's
 * podCIDR via that node's address on the kind network. No masquerade: traffic stays in the
 * cluster. The CNI under test replaces it.
 */

export const STANDIN_CONFLIST_PATH = '/etc/cni/net.d/10-returnpath-ptp.conflist';

export interface NodeRouting {
  name: string;
  /** The node's IPv4 address on the kind network. */
  address: string;
  /** spec.podCIDR. */
  podCIDR: string;
}

export function standinConflist(podCIDR: string, mtu = 1500): string {
  return (
    JSON.stringify(
      {
        cniVersion: '1.0.0',
        name: 'returnpath-standin',
        plugins: [
          {
            type: 'ptp',
            ipMasq: false,
            mtu,
            ipam: { type: 'host-local', ranges: [[{ subnet: podCIDR }]], routes: [{ dst: '0.0.0.0/0' }] },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      },
      null,
      2,
    ) + '\n'
  );
}

/** `ip -batch` lines for one node: a route to every other node's pods. */
export function podRoutes(self: string, nodes: readonly NodeRouting[]): string[] {
  return nodes.filter((n) => n.name !== self).map((n) => `route replace ${n.podCIDR} via ${n.address}`);
}
