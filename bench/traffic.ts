/**
 * Traffic benchmark: probe throughput across a veth between two namespaces, and the time to
 * decide a rate from 200 attempts. Run: `node dist/bench/traffic.js`.
 */
import { performance } from 'node:perf_hooks';
import { CommandRunner } from '../lib/exec/command.js';
import { Disposer } from '../lib/lab/disposer.js';
import { TrafficAgent } from '../lib/traffic/agent.js';
import { createVethPair, vethPairUnavailable } from '../lib/traffic/veth-pair.js';
import { decide } from '../lib/verdict/decider.js';

const ATTEMPTS = 5000;
const CONCURRENCY = 64;

export async function benchTraffic(): Promise<Record<string, number | string>> {
  const runner = new CommandRunner();
  const why = await vethPairUnavailable(runner);
  if (why) return { 'traffic skipped': why };
  const disposer = new Disposer();
  try {
    const t0 = performance.now();
    const pair = await createVethPair(runner);
    disposer.defer('veth pair', () => pair.destroy());
    const client = await TrafficAgent.start(pair.a, { name: 'client' });
    disposer.defer('client agent', () => client.close());
    const server = await TrafficAgent.start(pair.b, { name: 'server' });
    disposer.defer('server agent', () => server.close());
    await server.startServer({ name: 'web', kind: 'tcp', port: 8080 });
    await server.startServer({ name: 'lossy', kind: 'tcp', port: 8081 });
    await server.startServer({ name: 'api', kind: 'http', port: 8082 });
    const setupMs = performance.now() - t0;

    await client.probe({
      kind: 'tcp',
      host: pair.addrB,
      port: 8080,
      attempts: 500,
      concurrency: CONCURRENCY,
    });
    const tcp = await timed(() =>
      client.probe({
        kind: 'tcp',
        host: pair.addrB,
        port: 8080,
        attempts: ATTEMPTS,
        concurrency: CONCURRENCY,
      }),
    );
    const http = await timed(() =>
      client.probe({
        kind: 'http',
        host: pair.addrB,
        port: 8082,
        attempts: ATTEMPTS,
        concurrency: CONCURRENCY,
      }),
    );

    // Half of the SYNs to 8081 are dropped: a 50% timeout rate, judged from 200 attempts.
    await pair.b.run(
      ['iptables', '-A', 'INPUT', '-p', 'tcp', '--syn', '--dport', '8081'].concat([
        '-m',
        'statistic',
        '--mode',
        'random',
        '--probability',
        '0.5',
        '-j',
        'DROP',
      ]),
    );
    const decision = await timed(() =>
      decide(
        { kind: 'rate', outcome: 'timeout', min: 0.3, max: 0.7 },
        async (n) =>
          (
            await client.probe({ kind: 'tcp', host: pair.addrB, port: 8081, attempts: n, concurrency: 200 })
          ).attempts.map((a) => a.outcome),
        { batch: 200, cap: 200 },
      ),
    );

    return {
      'traffic veth pair + 2 workers up (ms)': round(setupMs),
      'traffic tcp connect attempts/s (5000, concurrency 64)': Math.round(ATTEMPTS / (tcp.ms / 1000)),
      'traffic tcp connected': tcp.value.counts.connected,
      'traffic http attempts/s (5000, concurrency 64)': Math.round(ATTEMPTS / (http.ms / 1000)),
      'traffic http connected': http.value.counts.connected,
      'traffic decide 200-attempt rate, 50% SYN drop, 300 ms deadline (ms)': round(decision.ms),
      'traffic decide verdict': `${decision.value.verdict.status}: ${decision.value.verdict.reason}`,
    };
  } finally {
    await disposer.dispose();
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
