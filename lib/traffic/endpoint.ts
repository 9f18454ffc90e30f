/** `ip:port` as servers report it; IPv4-mapped IPv6 is shown as IPv4, IPv6 in brackets. */
export function formatEndpoint(address: string | undefined, port: number | undefined): string {
  const ip = unmapIPv4(address ?? '?');
  return ip.includes(':') ? `[${ip}]:${port ?? '?'}` : `${ip}:${port ?? '?'}`;
}

export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
