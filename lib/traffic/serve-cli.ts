/**
 * A server as a program of its own, for labs left up (`returnpath lab up --cell`): the same servers
 * the cells run inside traffic workers, but outliving the command that started them.
 *
 *   node serve-cli.js NAME tcp|http|udp PORT
 *
 * Prints `listening NAME PORT` once it listens; exits 0 on SIGTERM/SIGINT, 1 when it cannot listen.
 */
import { startServer } from './servers.js';
import type { ServerKind } from './protocol.js';
import { isEntryPoint } from '../exec/entry.js';

export const SERVE_READY = 'listening';

/** Parses `KIND PORT` (tcp, http or udp; 1-65535); a message naming the bad value otherwise. */
export type ServeKind = 'tcp' | 'http' | 'udp';

export function parseServeArgs(
  kind: string | undefined,
  portText: string | undefined,
): { kind: ServeKind; port: number } | string {
  if (!['tcp', 'http', 'udp'].includes(kind ?? ''))
    return `KIND ${kind === undefined ? '(missing)' : JSON.stringify(kind)}: must be tcp, http or udp`;
  const port = Number(portText);
  if (portText === undefined || !/^\d+$/.test(portText) || port < 1 || port > 65535)
    return `PORT ${portText === undefined ? '(missing)' : JSON.stringify(portText)}: must be an integer from 1 to 65535`;
  return { kind: kind as ServeKind, port };
}

/** Runs a server until SIGTERM/SIGINT (exit 0); 1 when it cannot listen. */
export async function serve(name: string, kind: ServerKind, port: number): Promise<number> {
  // Listening for the signals before the ready line: a SIGTERM right after it must not find the default action.
  const signalled = new Promise<void>((resolve) => {
    process.on('SIGTERM', resolve);
    process.on('SIGINT', resolve);
  });
  try {
    const server = await startServer({ name, kind, port });
    process.stdout.write(`${SERVE_READY} ${name} ${server.info.port}\n`);
    await signalled;
    await server.stop(false);
    return 0;
  } catch (e) {
    process.stderr.write(`serve-cli: ${(e as Error).message}\n`);
    return 1;
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, kindText, portText] = argv;
  const parsed = parseServeArgs(kindText, portText);
  if (!name || typeof parsed === 'string') {
    process.stderr.write(
      `${typeof parsed === 'string' ? `${parsed}\n` : ''}usage: serve-cli NAME tcp|http|udp PORT\n`,
    );
    return 2;
  }
  return serve(name, parsed.kind, parsed.port);
}

if (isEntryPoint(import.meta.url)) void main(process.argv.slice(2)).then((code) => process.exit(code));
