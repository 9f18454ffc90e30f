/**
 * Which kube-proxy writes a lab's Service rules: the emulation (rules.ts, a plan contributor: the
 * fast default) or the real one (real.ts, started by the Kubernetes lab stage on a real control
 * plane). Above this, nothing depends on which: cells, traffic, evidence and chaos see a node
 * namespace with kube-proxy's rules in it.
 */
import type { DetectLocal, ProxyMode } from './config.js';

export type KubeProxyImplementation = 'emulated' | 'real';

/** What a run asks for (`returnpath run --kube-proxy real --kube-proxy-mode nftables`). */
export interface KubeProxyChoice {
  implementation: KubeProxyImplementation;
  /** The real one's mode; the emulation writes iptables rules. */
  mode: ProxyMode;
}

/** What a cell records about the kube-proxy it ran with. */
export interface KubeProxyRun {
  implementation: KubeProxyImplementation;
  mode: ProxyMode;
  /** The real one's k8s.io/kubernetes version. */
  version?: string;
  detectLocal: DetectLocal;
}

export function emulatedRun(detectLocal: DetectLocal): KubeProxyRun {
  return { implementation: 'emulated', mode: 'iptables', detectLocal };
}
