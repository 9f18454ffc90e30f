/**
 * kube-proxy's chain names, computed as `pkg/proxy/iptables/proxier.go` does: the first 16
 * characters of base32(sha256(servicePortName + protocol [+ endpoint])), protocol in lower case.
 */
import { createHash } from 'node:crypto';

export type ServiceChainPrefix = 'KUBE-SVC-' | 'KUBE-SVL-' | 'KUBE-EXT-' | 'KUBE-FW-';

/** `ServicePortName.String()`: `namespace/name:port`, or `namespace/name` for an unnamed port. */
export function servicePortName(namespace: string, name: string, port: string): string {
  return port ? `${namespace}/${name}:${port}` : `${namespace}/${name}`;
}

/** KUBE-SVC-/KUBE-SVL-/KUBE-EXT-/KUBE-FW- chain of a service port. `protocol` in any case (TCP, udp). */
export function servicePortChain(
  prefix: ServiceChainPrefix,
  servicePortName: string,
  protocol: string,
): string {
  return prefix + hash16(servicePortName + protocol.toLowerCase());
}

/** KUBE-SEP- chain of one endpoint (`ip:port`) of a service port. */
export function endpointChain(servicePortName: string, protocol: string, endpoint: string): string {
  return 'KUBE-SEP-' + hash16(servicePortName + protocol.toLowerCase() + endpoint);
}

function hash16(input: string): string {
  return base32(createHash('sha256').update(input).digest()).slice(0, 16);
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 (Go's `base32.StdEncoding`) without the padding, which the names never reach. */
function base32(bytes: Uint8Array): string {
  let out = '';
  let value = 0;
  let bits = 0;
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}
