/**
 * kube-proxy's service health check servers as a program, for a node namespace:
 *
 *   node healthcheck-server.js '[{"port":32000,"namespace":"demo","name":"web","localEndpoints":1}]'
 *
 * Listens on 0.0.0.0:port for each config and prints `listening <port>` once each listener is up.
 * Every request gets 200 while the service has local endpoints, else 503, with kube-proxy's JSON
 * body. Stdin takes one JSON line per change, `{"port":P,"localEndpoints":n}` (chaos uses it).
 * Exits 0 on SIGTERM/SIGINT or when stdin ends (with `--detached`, a lab left up: only on a
 * signal); exits 1 on bad arguments or a failed listen.
 */
import { createServer, type Server } from 'node:http';
import { createInterface } from 'node:readline';
import {
  healthCheckResponse,
  parseHealthCheckConfigs,
  parseHealthCheckUpdate,
  type HealthCheckServerConfig,
} from './healthcheck.js';

function main(): void {
  let configs: HealthCheckServerConfig[];
  try {
    configs = parseHealthCheckConfigs(process.argv[2] ?? '');
  } catch (e) {
    process.stderr.write(`healthcheck-server: ${(e as Error).message}\n`);
    process.exit(1);
  }
  const state = new Map(configs.map((c) => [c.port, { ...c }]));
  const servers = configs.map((c) => listen(c.port, () => state.get(c.port)!));

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    let open = servers.length;
    if (open === 0) process.exit(0);
    for (const s of servers) {
      s.close(() => {
        if (--open === 0) process.exit(0);
      });
      s.closeAllConnections();
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    try {
      const update = parseHealthCheckUpdate(line);
      const config = state.get(update.port);
      if (!config) throw new Error(`no health check server on port ${update.port}`);
      config.localEndpoints = update.localEndpoints;
    } catch (e) {
      process.stderr.write(`healthcheck-server: ignored update: ${(e as Error).message}\n`);
    }
  });
  if (!process.argv.includes('--detached')) lines.on('close', stop);
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
}

function listen(port: number, config: () => HealthCheckServerConfig): Server {
  const server = createServer((req, res) => {
    req.resume();
    const r = healthCheckResponse(config());
    res.writeHead(r.status, r.headers);
    res.end(r.body);
  });
  server.on('error', (e) => {
    process.stderr.write(`healthcheck-server: port ${port}: ${e.message}\n`);
    process.exit(1);
  });
  server.listen(port, '0.0.0.0', () => process.stdout.write(`listening ${port}\n`));
  return server;
}

main();
