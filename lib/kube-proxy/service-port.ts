/**
 * One Service port as kube-proxy's iptables proxier sees it on one node: chain names, endpoints
 * sorted as its EndpointsMap keeps them, and the policy decisions of `proxy.CategorizeEndpoints`
 * and `syncProxyRules` (internalTrafficPolicy is always Cluster in the model).
 */
import type { Service, ServicePort } from '../model/topology.js';
import { endpointChain, servicePortChain, servicePortName } from './chain-names.js';
import type { L4 } from './rule-text.js';

export interface Endpoint {
  ip: string;
  port: number;
  /** `ip:port`, kube-proxy's `Endpoint.String()`. */
  text: string;
  /** KUBE-SEP- chain. */
  chain: string;
  local: boolean;
}

export interface ServicePortView {
  service: Service;
  port: ServicePort;
  /** `namespace/name:port`, used in comments and hashes. */
  name: string;
  protocol: L4;
  svcChain: string;
  svlChain: string;
  extChain: string;
  /** Ready endpoints anywhere, sorted by `ip:port` (kube-proxy's `byEndpoint`). */
  clusterEndpoints: Endpoint[];
  /** This node's endpoints, only when the external policy is Local. */
  localEndpoints: Endpoint[];
  externallyAccessible: boolean;
  externalPolicyLocal: boolean;
  hasEndpoints: boolean;
  /** False when Local policy leaves external traffic with no endpoint on this node. */
  hasExternalEndpoints: boolean;
}

export function servicePortView(service: Service, port: ServicePort, nodeName: string): ServicePortView {
  const name = servicePortName(service.namespace, service.name, port.name);
  const protocol = port.protocol === 'UDP' ? 'udp' : 'tcp';
  const clusterEndpoints = service.endpoints
    .map((pod): Endpoint => {
      const text = `${pod.address}:${port.targetPort}`;
      return {
        ip: pod.address,
        port: port.targetPort,
        text,
        chain: endpointChain(name, protocol, text),
        local: pod.node === nodeName,
      };
    })
    .sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
  const externallyAccessible = port.nodePort !== undefined || service.loadBalancerIPs.length > 0;
  const externalPolicyLocal = externallyAccessible && service.externalTrafficPolicy === 'Local';
  const localEndpoints = externalPolicyLocal ? clusterEndpoints.filter((e) => e.local) : [];
  const hasEndpoints = clusterEndpoints.length > 0;
  return {
    service,
    port,
    name,
    protocol,
    svcChain: servicePortChain('KUBE-SVC-', name, protocol),
    svlChain: servicePortChain('KUBE-SVL-', name, protocol),
    extChain: servicePortChain('KUBE-EXT-', name, protocol),
    clusterEndpoints,
    localEndpoints,
    externallyAccessible,
    externalPolicyLocal,
    hasEndpoints,
    hasExternalEndpoints: hasEndpoints && (!externalPolicyLocal || localEndpoints.length > 0),
  };
}
