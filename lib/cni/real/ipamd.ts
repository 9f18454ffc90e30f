/**
 * The answers of returnpath's stand-in for ipamd, the VPC CNI's node daemon (ipamd asks EC2 and
 * the instance metadata service for ENIs and addresses; the lab has neither). The topology says
 * which address, ENI and route table each pod gets; the stand-in answers the plugin's
 * CNIBackend.AddNetwork / DelNetwork calls (rpc/rpc.proto of the version under test) with them,
 * in the reply shape that version's proto has:
 * - v1.8 and later (current): `IPAllocationMetadata[{IPv4Addr, DeviceNumber, RouteTableId}]`,
 *   `VPCv4CIDRs`, `UseExternalSNAT` (pkg/ipamd/rpc_handler.go);
 * - up to v1.7 (legacy): `IPv4Addr`, `DeviceNumber`, `VPCcidrs`, `UseExternalSNAT`.
 * As ipamd does, the VPC CIDRs include the SNAT exclusions unless external SNAT is on (the legacy
 * plugin writes one rule 1536 per entry). NetworkPolicyMode stays empty (no policy agent).
 * Pure: the process around it is ipamd-standin.ts.
 */

export interface StandinPod {
  address: string;
  /** ENI device number (eth1 -> 1). */
  device: number;
  /** Route table of the ENI (main = 254 for device 0). */
  table: number;
  eni: string;
}

export interface StandinNode {
  node: string;
  /** Unix socket the node's plugin reaches (through /var/run/aws-node or the TCP forwarder). */
  socket: string;
  vpcCidrs: string[];
  excludeSnatCidrs: string[];
  externalSNAT: boolean;
  /** Pods of this node by name, in `namespace`. */
  pods: Record<string, StandinPod>;
  /** The namespace the pods live in (default `default`; a cluster run's pods live in the run's). */
  namespace?: string;
}

export interface StandinConfig {
  /** rpc/rpc.proto of the version under test. */
  proto: string;
  nodes: StandinNode[];
}

export type ReplyShape = 'current' | 'legacy';

export interface AddRequest {
  K8S_POD_NAME?: string;
  K8S_POD_NAMESPACE?: string;
  ContainerID?: string;
  IfName?: string;
  NetworkName?: string;
}

export type DelRequest = AddRequest;

/** A reply, or an error the stand-in returns as a gRPC status (the plugin prints its text). */
export type Answer =
  { reply: Record<string, unknown> } | { error: string; code: 'NOT_FOUND' | 'INVALID_ARGUMENT' };

/** ipamd's datastore.ErrUnknownPod text: the plugin treats a DEL answered with it as done. */
export const UNKNOWN_POD = 'datastore: unknown pod';

/** Per node: which container holds which pod (ipamd's datastore keyed by container, ifname, network). */
export class StandinState {
  private readonly assigned = new Map<string, string>();

  constructor(
    readonly node: StandinNode,
    readonly shape: ReplyShape,
  ) {}

  private key(r: AddRequest): string {
    return `${r.ContainerID ?? ''}/${r.IfName ?? ''}/${r.NetworkName ?? ''}`;
  }

  private allocation(pod: StandinPod): Record<string, unknown> {
    return this.shape === 'current'
      ? {
          IPAllocationMetadata: [
            { IPv4Addr: pod.address, DeviceNumber: pod.device, RouteTableId: pod.table },
          ],
        }
      : { IPv4Addr: pod.address, DeviceNumber: pod.device };
  }

  add(r: AddRequest): Answer {
    const name = r.K8S_POD_NAME ?? '';
    const pod = this.node.pods[name];
    const ns = this.node.namespace ?? 'default';
    if (!pod || (r.K8S_POD_NAMESPACE ?? 'default') !== ns) {
      const known = Object.keys(this.node.pods);
      return {
        code: 'NOT_FOUND',
        error:
          `ipamd stand-in on node ${this.node.node}: the topology has no pod "${r.K8S_POD_NAMESPACE ?? ''}/${name}" ` +
          `on this node (pods here: ${known.length ? known.map((p) => `${ns}/${p}`).join(', ') : 'none'})`,
      };
    }
    if (!r.ContainerID || !r.IfName || !r.NetworkName)
      return {
        code: 'INVALID_ARGUMENT',
        error: `ipamd stand-in on node ${this.node.node}: AddNetwork without ContainerID, IfName or NetworkName`,
      };
    this.assigned.set(this.key(r), name);
    const cidrs = [...this.node.vpcCidrs, ...(this.node.externalSNAT ? [] : this.node.excludeSnatCidrs)];
    return {
      reply: {
        Success: true,
        ...this.allocation(pod),
        UseExternalSNAT: this.node.externalSNAT,
        ...(this.shape === 'current' ? { VPCv4CIDRs: cidrs } : { VPCcidrs: cidrs }),
      },
    };
  }

  del(r: DelRequest): Answer {
    const name = this.assigned.get(this.key(r));
    if (name === undefined) return { code: 'NOT_FOUND', error: UNKNOWN_POD };
    this.assigned.delete(this.key(r));
    return { reply: { Success: true, ...this.allocation(this.node.pods[name]!) } };
  }
}
