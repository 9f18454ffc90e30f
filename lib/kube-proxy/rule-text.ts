/**
 * Rule text in the canonical form `iptables-save` prints back (legacy and nft backends agree):
 * `[! -s SRC] [-s SRC] [-d DST] [-p PROTO] [-m MATCH ...]... -j TARGET [OPTIONS]`, host addresses
 * with `/32`, comments always quoted. kube-proxy writes the same rules in another argument order
 * (`-m comment ... -m tcp -p tcp -d 10.0.0.1 --dport 80`); the kernel keeps only the meaning, so a
 * dump of the lab shows exactly these strings.
 */

export type L4 = 'tcp' | 'udp';

export interface RuleSpec {
  /** `! -s` (kube-proxy's "not local" detector). */
  notSource?: string;
  source?: string;
  /** `! -d` (the node-port jump without localhost node ports). */
  notDestination?: string;
  destination?: string;
  protocol?: L4;
  /** Match modules in kube-proxy's order, each as built by the helpers below. */
  matches?: readonly string[];
  /** Target and its options, e.g. `KUBE-MARK-MASQ` or `DNAT --to-destination 10.0.1.15:8080`. */
  target: string;
}

/** Everything after `-A CHAIN`. */
export function rule(spec: RuleSpec): string {
  const parts: string[] = [];
  if (spec.notSource) parts.push('!', '-s', prefixed(spec.notSource));
  if (spec.source) parts.push('-s', prefixed(spec.source));
  if (spec.notDestination) parts.push('!', '-d', prefixed(spec.notDestination));
  if (spec.destination) parts.push('-d', prefixed(spec.destination));
  if (spec.protocol) parts.push('-p', spec.protocol);
  parts.push(...(spec.matches ?? []), '-j', spec.target);
  return parts.join(' ');
}

export function comment(text: string): string {
  return `-m comment --comment "${text.replace(/(["\\])/g, '\\$1')}"`;
}

/** `-m tcp --dport N` (kube-proxy's `-m tcp -p tcp ... --dport N`; `-p` goes in RuleSpec.protocol). */
export function dport(protocol: L4, port: number): string {
  return `-m ${protocol} --dport ${port}`;
}

export function ctstate(states: string, negate = false): string {
  return `-m conntrack ${negate ? '! ' : ''}--ctstate ${states}`;
}

export function addrtype(which: 'src' | 'dst', type: string): string {
  return `-m addrtype --${which}-type ${type}`;
}

/** `-m statistic` for the i-th of n endpoints: probability 1/(n-i) as kube-proxy computes it. */
export function statistic(remaining: number): string {
  return `-m statistic --mode random --probability ${savedProbability(kubeProxyProbability(remaining))}`;
}

/** kube-proxy's `computeProbability(n)`: `fmt.Sprintf("%0.10f", 1.0/float64(n))`. */
export function kubeProxyProbability(n: number): string {
  return (1 / n).toFixed(10);
}

/**
 * What iptables-save prints for a probability given to iptables-restore: libxt_statistic stores
 * `lround(0x80000000 * p)` and prints it back with `%.11f` (0.5000000000 -> 0.50000000000,
 * 0.3333333333 -> 0.33333333349).
 */
export function savedProbability(text: string): string {
  const scale = 0x80000000;
  return (Math.round(scale * Number(text)) / scale).toFixed(11);
}

function prefixed(address: string): string {
  return address.includes('/') ? address : `${address}/32`;
}
