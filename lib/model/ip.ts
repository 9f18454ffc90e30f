/** IPv4 arithmetic on plain numbers. Pure; used by the model, the plan and the NLB. */

export interface Cidr {
  base: number;
  prefix: number;
  text: string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(s: string): boolean {
  return IPV4.test(s);
}

export function ipToInt(ip: string): number {
  if (!isIpv4(ip)) throw new Error(`not an IPv4 address: ${ip}`);
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function isCidr(s: string): boolean {
  const [ip, len, ...rest] = s.split('/');
  if (rest.length || ip === undefined || len === undefined || !isIpv4(ip) || !/^\d{1,2}$/.test(len))
    return false;
  const prefix = Number(len);
  if (prefix > 32) return false;
  return (ipToInt(ip) & ~mask(prefix)) >>> 0 === 0;
}

export function parseCidr(s: string): Cidr {
  if (!isCidr(s)) throw new Error(`not a CIDR with host bits clear: ${s}`);
  const [ip, len] = s.split('/') as [string, string];
  return { base: ipToInt(ip), prefix: Number(len), text: s };
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function cidrContains(c: Cidr, ip: string): boolean {
  return (ipToInt(ip) & mask(c.prefix)) >>> 0 === c.base;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.base & mask(p)) >>> 0 === (b.base & mask(p)) >>> 0;
}

/** `cidr` is entirely inside `outer`. */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  return inner.prefix >= outer.prefix && (inner.base & mask(outer.prefix)) >>> 0 === outer.base;
}

/** The n-th address of a CIDR (0 = network address). */
export function nthAddress(c: Cidr, n: number): string {
  return intToIp(c.base + n);
}

export function broadcast(c: Cidr): string {
  return intToIp((c.base | ~mask(c.prefix)) >>> 0);
}

/** Ranges no host of the lab can use: what each is for. */
const SPECIAL: readonly [string, string][] = [
  ['0.0.0.0/8', '"this network" (0.0.0.0/8), not a host address'],
  ['127.0.0.0/8', 'loopback (127.0.0.0/8): it never leaves a host'],
  [
    '169.254.0.0/16',
    "link-local (169.254.0.0/16): the CNI's pod gateway 169.254.1.1 and instance metadata live here",
  ],
  ['224.0.0.0/4', 'multicast (224.0.0.0/4), not a host address'],
  ['240.0.0.0/4', 'reserved (240.0.0.0/4) or the limited broadcast 255.255.255.255, not a host address'],
];

/** Why `ip` cannot be a host's address (loopback, link-local, multicast, ...), or undefined. */
export function specialAddress(ip: string): string | undefined {
  return SPECIAL.find(([c]) => cidrContains(parseCidr(c), ip))?.[1];
}

/** Why a CIDR overlaps a range no host can use, or undefined. */
export function specialCidr(c: Cidr): string | undefined {
  return SPECIAL.find(([s]) => cidrsOverlap(parseCidr(s), c))?.[1];
}
