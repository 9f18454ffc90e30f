/**
 * kube-proxy's service health check servers (`pkg/proxy/healthcheck/service_health.go`): one
 * HTTP listener per LoadBalancer Service with externalTrafficPolicy Local, on its
 * healthCheckNodePort, answering 200 while the node has a local endpoint and 503 otherwise.
 * The server itself is healthcheck-server.ts, a program the lab starts inside a node namespace.
 */
import { fileURLToPath } from 'node:url';
import { NotFoundError, ValidationError, type ValidationProblem } from '../errors.js';
import type { Topology } from '../model/topology.js';

export interface HealthCheckServerConfig {
  port: number;
  namespace: string;
  name: string;
  /** Distinct local ready endpoint IPs (kube-proxy's `LocalReadyEndpoints`). */
  localEndpoints: number;
}

/** A run-time change written to the server's stdin as one JSON line. */
export interface HealthCheckUpdate {
  port: number;
  localEndpoints: number;
}

export interface HealthCheckResponse {
  status: 200 | 503;
  headers: Record<string, string>;
  body: string;
}

export function healthCheckServers(topology: Topology, nodeName: string): HealthCheckServerConfig[] {
  if (!topology.nodes.some((n) => n.name === nodeName))
    throw new NotFoundError(`kube-proxy: no node "${nodeName}" in topology ${topology.name}`);
  return topology.services
    .filter((s) => s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local')
    .flatMap((s) =>
      s.healthCheckNodePort === undefined
        ? []
        : [
            {
              port: s.healthCheckNodePort,
              namespace: s.namespace,
              name: s.name,
              localEndpoints: new Set(s.endpoints.filter((p) => p.node === nodeName).map((p) => p.address))
                .size,
            },
          ],
    );
}

/** The answer to any request, as kube-proxy's hcHandler writes it (kube-proxy itself healthy). */
export function healthCheckResponse(config: HealthCheckServerConfig): HealthCheckResponse {
  const count = config.localEndpoints;
  const body = [
    '{',
    '\t"service": {',
    `\t\t"namespace": ${JSON.stringify(config.namespace)},`,
    `\t\t"name": ${JSON.stringify(config.name)}`,
    '\t},',
    `\t"localEndpoints": ${count},`,
    '\t"serviceProxyHealthy": true',
    '}',
  ].join('\n');
  return {
    status: count !== 0 ? 200 : 503,
    headers: {
      'Content-Type': 'application/json',
      'X-Content-Type-Options': 'nosniff',
      'X-Load-Balancing-Endpoint-Weight': String(count),
    },
    body,
  };
}

/** The argv that starts the server with these configs (wrap it to run inside a namespace). */
export function healthCheckServerArgv(configs: readonly HealthCheckServerConfig[]): string[] {
  const program = fileURLToPath(new URL('./healthcheck-server.js', import.meta.url));
  return [process.execPath, program, JSON.stringify(configs)];
}

/** Parses the server's argv[2]. Throws ValidationError listing every problem. */
export function parseHealthCheckConfigs(text: string): HealthCheckServerConfig[] {
  const data = parseJson(text, 'health check server configs');
  if (!Array.isArray(data))
    throw invalid('health check server configs', [
      { path: '', value: text, message: 'must be a JSON array' },
    ]);
  const problems: ValidationProblem[] = [];
  const seen = new Set<number>();
  data.forEach((c: unknown, i) => {
    const o = (typeof c === 'object' && c !== null ? c : {}) as Record<string, unknown>;
    checkPort(o.port, `[${i}].port`, problems);
    checkCount(o.localEndpoints, `[${i}].localEndpoints`, problems);
    for (const k of ['namespace', 'name'])
      if (typeof o[k] !== 'string' || o[k] === '')
        problems.push({
          path: `[${i}].${k}`,
          value: JSON.stringify(o[k]) ?? '(missing)',
          message: 'must be a non-empty string',
        });
    if (typeof o.port === 'number' && seen.has(o.port))
      problems.push({ path: `[${i}].port`, value: String(o.port), message: 'duplicates an earlier port' });
    if (typeof o.port === 'number') seen.add(o.port);
  });
  if (problems.length > 0) throw invalid('health check server configs', problems);
  return data as HealthCheckServerConfig[];
}

/** Parses one stdin line `{"port":P,"localEndpoints":n}`. Throws ValidationError. */
export function parseHealthCheckUpdate(line: string): HealthCheckUpdate {
  const data = parseJson(line, 'health check update');
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw invalid('health check update', [
      { path: '', value: line, message: 'must be a JSON object {"port":P,"localEndpoints":n}' },
    ]);
  const o = data as Record<string, unknown>;
  const problems: ValidationProblem[] = [];
  checkPort(o.port, 'port', problems);
  checkCount(o.localEndpoints, 'localEndpoints', problems);
  if (problems.length > 0) throw invalid('health check update', problems);
  return { port: o.port as number, localEndpoints: o.localEndpoints as number };
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalid(source, [{ path: '', value: text, message: `not JSON: ${(e as Error).message}` }]);
  }
}

function checkPort(v: unknown, path: string, problems: ValidationProblem[]): void {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 65535)
    problems.push({
      path,
      value: JSON.stringify(v) ?? '(missing)',
      message: 'must be a port number 1-65535',
    });
}

function checkCount(v: unknown, path: string, problems: ValidationProblem[]): void {
  if (!Number.isInteger(v) || (v as number) < 0)
    problems.push({ path, value: JSON.stringify(v) ?? '(missing)', message: 'must be an integer >= 0' });
}

function invalid(source: string, problems: ValidationProblem[]): ValidationError {
  return new ValidationError(source, problems);
}
