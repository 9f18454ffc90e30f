/**
 * Integration: the rules and the health check server in a network namespace of our own
 * (`rpt-kp-<random>`, deleted afterwards); every address used lives in that namespace.
 * Needs root, ip, nsenter and iptables-restore/-save; skipped, with the reason printed, otherwise.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { realpathSync } from 'node:fs';
import { expect } from 'chai';
import { CommandRunner } from '../exec/command.js';
import { netnsPrefix } from '../exec/netns.js';
import { healthCheckServerArgv, type HealthCheckServerConfig } from './healthcheck.js';
import { kubeProxyRuleset } from './rules.js';
import { scenarios, topologyWith } from './testdata/scenarios.js';

const TOOLS = ['ip', 'nsenter', 'iptables-restore', 'iptables-save'];

function which(tool: string): string | undefined {
  const r = spawnSync('which', [tool], { encoding: 'utf8' });
  return r.status === 0 ? realpathSync(r.stdout.trim()) : undefined;
}

function missingRequirement(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  const absent = TOOLS.filter((t) => !which(t));
  return absent.length > 0 ? `missing ${absent.join(', ')}` : undefined;
}

/** The default iptables backend plus the other one when installed (legacy and nft must agree). */
function backends(): [string, string][] {
  const all: [string, string][] = [
    ['iptables-restore', 'iptables-save'],
    ['iptables-legacy-restore', 'iptables-legacy-save'],
    ['iptables-nft-restore', 'iptables-nft-save'],
  ];
  const seen = new Set<string>();
  return all.filter(([restore, save]) => {
    const binary = which(restore);
    if (!binary || !which(save) || seen.has(binary)) return false;
    seen.add(binary);
    return true;
  });
}

/** One table of iptables-save output, without comments and with counters zeroed. */
function savedTable(save: string, table: string): string[] {
  const lines = save.split('\n').filter((l) => l && !l.startsWith('#'));
  const start = lines.indexOf(`*${table}`);
  const end = lines.indexOf('COMMIT', start);
  return lines.slice(start, end + 1).map((l) => l.replace(/\[\d+:\d+\]$/, '[0:0]'));
}

describe('kube-proxy in a network namespace', function () {
  const netns = `rpt-kp-${randomBytes(4).toString('hex')}`;
  const runner = new CommandRunner();
  const inNs = (argv: readonly string[]): string[] => [...netnsPrefix(netns), ...argv];
  const children: ChildProcessWithoutNullStreams[] = [];
  let created = false;

  before(async function () {
    const reason = missingRequirement();
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    await runner.run(['ip', 'netns', 'add', netns]);
    created = true;
    await runner.run(['ip', '-n', netns, 'link', 'set', 'lo', 'up']);
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (created) await runner.run(['ip', 'netns', 'del', netns]);
  });

  /** Starts the health check server in the namespace and waits for its `listening` lines. */
  async function startServer(
    configs: HealthCheckServerConfig[],
  ): Promise<[ChildProcessWithoutNullStreams, string[]]> {
    const [file, ...args] = inNs(healthCheckServerArgv(configs)) as [string, ...string[]];
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const lines = (): string[] => out.split('\n').filter(Boolean);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`server not listening after 10 s: ${out}${err}`)),
        10_000,
      );
      child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
      child.stdout.on('data', () => {
        if (lines().length < configs.length) return;
        clearTimeout(timer);
        resolve();
      });
    });
    return [child, lines()];
  }

  /** GET from inside the namespace: status, endpoint weight header and JSON body. */
  async function get(url: string): Promise<{ status: number; weight: string | null; body: unknown }> {
    const script =
      'const r = await fetch(process.argv[1], { signal: AbortSignal.timeout(5000) });' +
      'console.log(JSON.stringify({ status: r.status, weight: r.headers.get("x-load-balancing-endpoint-weight"), body: await r.json() }));' +
      'process.exit(0);';
    const out = await runner.run(inNs([process.execPath, '--input-type=module', '-e', script, url]), {
      timeoutMs: 10_000,
    });
    return JSON.parse(out.stdout);
  }

  describe('rules', () => {
    for (const [restore, save] of backends())
      for (const s of scenarios)
        it(`${save} prints back exactly the rules of ${s.name}`, async () => {
          const ruleset = kubeProxyRuleset(s.topology, s.node);
          const rendered = ruleset.render();
          await runner.run(inNs([restore]), { input: rendered });
          const saved = (await runner.run(inNs([save]))).stdout;
          for (const table of ['nat', 'filter'] as const) {
            expect(savedTable(saved, table)).to.deep.equal(savedTable(rendered, table));
            expect(savedTable(saved, table).filter((l) => l.startsWith('-A '))).to.deep.equal([
              ...ruleset.lines(table),
            ]);
          }
          await runner.run(inNs([restore]), { input: '*nat\nCOMMIT\n*filter\nCOMMIT\n' });
        });

    it('carry node-originated cluster IP and node port connections to the endpoint', async () => {
      // Node address 10.0.1.10 and pod address 10.0.1.15 both on lo; the "pod" is a health
      // check server on the target port; one endpoint, so the path is deterministic.
      const topology = topologyWith([
        {
          namespace: 'demo',
          name: 'web',
          type: 'NodePort',
          clusterIP: '172.20.10.10',
          ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
          endpoints: ['web-1'],
        },
      ]);
      for (const address of ['10.0.1.10/32', '10.0.1.15/32'])
        await runner.run(['ip', '-n', netns, 'address', 'add', address, 'dev', 'lo']);
      await runner.run(['ip', '-n', netns, 'route', 'add', '172.20.0.0/16', 'dev', 'lo', 'src', '10.0.1.10']);
      await runner.run(inNs(['iptables-restore']), { input: kubeProxyRuleset(topology, 'node-a').render() });
      const [pod] = await startServer([{ port: 8080, namespace: 'demo', name: 'pod', localEndpoints: 1 }]);

      expect((await get('http://172.20.10.10:80/')).status).to.equal(200);
      expect((await get('http://10.0.1.10:30080/')).status).to.equal(200);
      const saved = (await runner.run(inNs(['iptables-save', '-c', '-t', 'nat']))).stdout;
      expect(saved).to.match(
        /^\[2:\d+\] -A KUBE-SEP-WUG2IG7IAEUVDBC6 -p tcp .* -j DNAT --to-destination 10\.0\.1\.15:8080$/m,
      );
      expect(saved).to.match(/^\[1:\d+\] -A KUBE-POSTROUTING .* -j MASQUERADE --random-fully$/m);
      pod.stdin.end();
      await once(pod, 'exit');
    });
  });

  describe('health check server', () => {
    const configs: HealthCheckServerConfig[] = [
      { port: 32000, namespace: 'demo', name: 'web', localEndpoints: 1 },
      { port: 32001, namespace: 'demo', name: 'api', localEndpoints: 0 },
    ];

    it('answers 200 with local endpoints and 503 without, and takes updates on stdin', async () => {
      const [child, lines] = await startServer(configs);
      expect(lines).to.have.members(['listening 32000', 'listening 32001']);

      expect(await get('http://127.0.0.1:32000/healthz')).to.deep.equal({
        status: 200,
        weight: '1',
        body: { service: { namespace: 'demo', name: 'web' }, localEndpoints: 1, serviceProxyHealthy: true },
      });
      expect(await get('http://127.0.0.1:32001/healthz')).to.deep.include({ status: 503, weight: '0' });

      child.stdin.write('{"port":32000,"localEndpoints":0}\n{"port":32001,"localEndpoints":3}\n');
      await new Promise((r) => setTimeout(r, 100));
      expect((await get('http://127.0.0.1:32000/healthz')).status).to.equal(503);
      expect(await get('http://127.0.0.1:32001/')).to.deep.include({ status: 200, weight: '3' });

      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      expect(await exited).to.deep.equal([0, null]);
    });

    it('exits cleanly when stdin ends', async () => {
      const [child] = await startServer(configs);
      const exited = once(child, 'exit');
      child.stdin.end();
      expect(await exited).to.deep.equal([0, null]);
    });

    it('exits 1 with a message on bad arguments', async () => {
      const [file, ...args] = inNs([...healthCheckServerArgv([]).slice(0, 2), '[{"port":0}]']) as [
        string,
        ...string[],
      ];
      const r = spawnSync(file, args, { encoding: 'utf8', input: '' });
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/\[0\]\.port: must be a port number/);
    });
  });
});
