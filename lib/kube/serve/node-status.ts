/**
 * What the lab kubelet reports in each Node's status (pure, unit-tested): where the apiserver
 * reaches it (an address of type KUBELET_ADDRESS_TYPE whose value is its run-private loopback
 * address; InternalIP stays the node's VPC address, which kube-proxy and the NLB use), its port,
 * the feature that makes the apiserver hand exec WebSockets to it unchanged, and Ready.
 */
import type { V1Node, V1NodeAddress, V1NodeCondition } from '@kubernetes/client-node';
import { KUBELET_ADDRESS_TYPE } from '../control-plane.js';

/** kube-apiserver proxies exec/attach/port-forward WebSockets to a kubelet that declares it (1.36 beta). */
export const WEBSOCKET_FEATURE = 'ExtendWebSocketsToKubelet';

/**
 * The status as JSON (a merge patch body): client-node 1.4's types know neither `declaredFeatures`
 * nor the wire name `Port`, and its patch bodies go out as given.
 */
export interface KubeletNodeStatus {
  addresses: V1NodeAddress[];
  daemonEndpoints: { kubeletEndpoint: { Port: number } };
  declaredFeatures: string[];
  conditions: V1NodeCondition[];
}

export function kubeletNodeStatus(
  node: V1Node,
  endpoint: { host: string; port: number },
  at: string,
): KubeletNodeStatus {
  const addresses = (node.status?.addresses ?? []).filter((a) => a.type !== KUBELET_ADDRESS_TYPE);
  const t = at as unknown as Date;
  const known = (node.status as { declaredFeatures?: string[] } | undefined)?.declaredFeatures ?? [];
  // The apiserver wants them sorted, without duplicates.
  const declared = [...new Set([...known, WEBSOCKET_FEATURE])].sort();
  const others = (node.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    addresses: [...addresses, { type: KUBELET_ADDRESS_TYPE, address: endpoint.host }],
    daemonEndpoints: { kubeletEndpoint: { Port: endpoint.port } },
    declaredFeatures: declared,
    conditions: [
      ...others,
      {
        type: 'Ready',
        status: 'True',
        reason: 'KubeletReady',
        message: 'returnpath is the kubelet of this lab node (serve mode)',
        lastHeartbeatTime: t,
        lastTransitionTime: ready?.status === 'True' ? (ready.lastTransitionTime ?? t) : t,
      },
    ],
  };
}
