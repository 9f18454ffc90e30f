/**
 * Forwards for the relay program (relay.ts): `LISTEN=TARGET`, each end `tcp:HOST:PORT` or
 * `unix:PATH`. Unix sockets live in the filesystem, not in a network namespace: a relay inside a
 * node namespace reaches the host's control plane through one (and exposes kube-proxy's health
 * and metrics ports to the host through another) without adding an interface or route to the node.
 */
import { ValidationError, type ValidationProblem } from '../errors.js';
import { isIpv4 } from '../model/ip.js';

export type Endpoint = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface Forward {
  listen: Endpoint;
  target: Endpoint;
  /** The argument as given, for the `listening` line. */
  text: string;
}

export function endpointText(e: Endpoint): string {
  return e.kind === 'tcp' ? `tcp:${e.host}:${e.port}` : `unix:${e.path}`;
}

export function forwardArg(listen: Endpoint, target: Endpoint): string {
  return `${endpointText(listen)}=${endpointText(target)}`;
}

function parseEndpoint(text: string, path: string, problems: ValidationProblem[]): Endpoint | undefined {
  const tcp = /^tcp:([0-9.]+):(\d{1,5})$/.exec(text);
  if (tcp) {
    const port = Number(tcp[2]);
    if (!isIpv4(tcp[1]!) || port < 1 || port > 65535) {
      problems.push({ path, value: text, message: 'needs an IPv4 address and a port 1-65535' });
      return undefined;
    }
    return { kind: 'tcp', host: tcp[1]!, port };
  }
  const unix = /^unix:(\/.+)$/.exec(text);
  if (unix) {
    if (Buffer.byteLength(unix[1]!) > 107) {
      problems.push({ path, value: text, message: 'a unix socket path is at most 107 bytes' });
      return undefined;
    }
    return { kind: 'unix', path: unix[1]! };
  }
  problems.push({ path, value: text, message: 'must be tcp:IPV4:PORT or unix:/ABSOLUTE/PATH' });
  return undefined;
}

/** Parses the relay's arguments. Throws ValidationError listing every problem. */
export function parseForwards(args: readonly string[]): Forward[] {
  const problems: ValidationProblem[] = [];
  const out: Forward[] = [];
  if (args.length === 0)
    problems.push({ path: '', value: '(none)', message: 'needs at least one LISTEN=TARGET forward' });
  args.forEach((a, i) => {
    const parts = a.split('=');
    if (parts.length !== 2) {
      problems.push({ path: `[${i}]`, value: a, message: 'must be LISTEN=TARGET' });
      return;
    }
    const listen = parseEndpoint(parts[0]!, `[${i}].listen`, problems);
    const target = parseEndpoint(parts[1]!, `[${i}].target`, problems);
    if (listen && target) out.push({ listen, target, text: a });
  });
  if (problems.length) throw new ValidationError('relay forwards', problems);
  return out;
}
