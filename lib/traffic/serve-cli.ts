/**
 * A server as a program of its own, for labs left up (`returnpath lab up --cell`): the same servers
 * the cells run inside traffic workers, but outliving the command that started them.
 *
 *   node serve-cli.js NAME tcp|http|udp PORT
 *
 * Prints `listening NAME PORT` once it listens; exits 0 on SIGTERM/SIGINT, 1 when it cannot listen.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startServer } from './servers.js';
import type { ServerKind } from './protocol.js';

export const SERVE_READY = 'listening';

async function main(argv: readonly string[]): Promise<number> {
  const [name, kind, portText] = argv;
  const port = Number(portText);
  if (
    !name ||
    !['tcp', 'http', 'udp'].includes(kind ?? '') ||
    !Number.isInteger(port) ||
    port < 1 ||
    port > 65535
  ) {
    process.stderr.write('usage: serve-cli NAME tcp|http|udp PORT\n');
    return 2;
  }
  try {
    const server = await startServer({ name, kind: kind as ServerKind, port });
    process.stdout.write(`${SERVE_READY} ${name} ${server.info.port}\n`);
    await new Promise<void>((resolve) => {
      process.on('SIGTERM', resolve);
      process.on('SIGINT', resolve);
    });
    await server.stop(false);
    return 0;
  } catch (e) {
    process.stderr.write(`serve-cli: ${(e as Error).message}\n`);
    return 1;
  }
}

function runDirectly(): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (runDirectly()) void main(process.argv.slice(2)).then((code) => process.exit(code));
