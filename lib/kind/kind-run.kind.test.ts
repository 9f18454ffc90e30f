/**
 * Integration, end to end as a user runs it: `returnpath run --kind --suite baseline` makes a kind
 * cluster (kind's real kubelet, containerd and kube-proxy) whose nodes join returnpath's emulated
 * VPC with the real VPC CNI, runs every baseline cell through the kubeconfig backend, and removes
 * the cluster and its lab. Every cell the cluster can run passes, as in the lab; the others are
 * skipped with the reason. Afterwards no cluster, namespace, engine or link of the run is left and
 * the host's network is as before. Skips only when root or the built components are absent.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../cli/cli-test-support.js';
import { dockerCli, engine, findBuilt, kind, kindNode, runc, vpcCni } from '../components/index.js';
import { hostFootprint, type HostFootprint } from '../engine/host-footprint.js';
import { listNetns } from '../lab/state.js';
import type { RunResults } from '../scenario/result.js';
import { listClusters } from './cluster.js';

async function kindUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (a private container engine, network namespaces)';
  const missing: string[] = [];
  for (const c of [engine, runc, dockerCli, kind, kindNode, vpcCni])
    if (!(await findBuilt(c))) missing.push(c.name);
  return missing.length
    ? `components not built: ${missing.join(', ')} (returnpath components build)`
    : undefined;
}

describe('run --kind: the baseline suite on a kind cluster joined to the lab [Slow]', function () {
  this.timeout(40 * 60_000);
  let tmp: string;
  let hostBefore: HostFootprint;
  const footprint = (): Promise<HostFootprint> =>
    // Other runs' lab namespaces come and go on a shared machine; this run's must not stay.
    hostFootprint({ ignoreNetns: /^rp-/ });

  before(async function () {
    const why = await kindUnavailable();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    tmp = await mkdtemp(join(tmpdir(), 'rp-kind-run-'));
    hostBefore = await footprint();
  });
  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('passes every baseline cell with the real kubelet, kube-proxy and VPC CNI, and leaves nothing behind', async () => {
    const clustersBefore = (await listClusters()).map((c) => c.name);
    const namespacesBefore = new Set(await listNetns());
    const r = await runCli(
      ['run', '--kind', '--suite', 'baseline', '--results', tmp, '--run-id', 'kind-baseline'],
      {
        timeoutMs: 35 * 60_000,
      },
    );
    const out = r.stdout + r.stderr;
    const results = JSON.parse(
      await readFile(join(tmp, 'kind-baseline', 'results.json'), 'utf8'),
    ) as RunResults;
    const failed = results.cells.filter((c) => c.status !== 'pass');
    expect(
      failed.map((c) => `${c.id}: ${c.status} ${c.reason}`),
      out.slice(-4000),
    ).to.deep.equal([]);
    expect(results.cells).to.have.length(11);
    expect(r.code, out.slice(-2000)).to.equal(0);
    // The run says what it made and what ran where.
    expect(r.stdout).to.match(/--kind: 11 cells on 1 kind cluster\(s\)/);
    expect(r.stdout).to.match(
      /kind cluster rp-[0-9a-f]{6} joined to lab [0-9a-f]{6} \(its topology seed-003-baseline describes it\)/,
    );
    expect(r.stdout).to.match(/real vpc-cni v[\d.]+ in the kind nodes set up/);
    // Reproduce lines make the cluster again.
    for (const c of results.cells) expect(c.reproduce.join('\n')).to.include('--kind');
    // Nothing of the run is left: no cluster, no namespace of its lab or engine, the host as before.
    expect((await listClusters()).map((c) => c.name)).to.deep.equal(clustersBefore);
    const made = (await listNetns()).filter((n) => !namespacesBefore.has(n));
    expect(made).to.deep.equal([]);
    const after = await footprint();
    for (const k of ['links', 'addresses', 'routes', 'iptables', 'nft', 'forwardPolicy', 'sysctls'] as const)
      expect(after[k], k).to.deep.equal(hostBefore[k]);
  });

  it("reproduces seed 001's hairpin through the NLB on kind's real kube-proxy: the timeout share the lab derives", async () => {
    const r = await runCli(
      [
        'run',
        '--kind',
        '--suite',
        'nlb-hairpin',
        '--grep',
        'seed001',
        '--results',
        tmp,
        '--run-id',
        'kind-hairpin',
      ],
      { timeoutMs: 35 * 60_000 },
    );
    const out = r.stdout + r.stderr;
    const results = JSON.parse(
      await readFile(join(tmp, 'kind-hairpin', 'results.json'), 'utf8'),
    ) as RunResults;
    expect(
      results.cells.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.status} ${c.reason}`),
      out.slice(-4000),
    ).to.deep.equal([]);
    expect(results.cells.length).to.be.greaterThan(5);
    // The hairpin itself: with client IP preservation, a share of the attempts times out (the
    // expectations bound it), while preservation off connects every attempt.
    const on = results.cells.find((c) => c.id === 'seed001.instance.cluster.preserve-on')!;
    expect(on.counts['timeout'] ?? 0, JSON.stringify(on.counts)).to.be.greaterThan(0);
    const off = results.cells.find((c) => c.id === 'seed001.instance.cluster.preserve-off')!;
    expect(off.counts).to.deep.equal({ connected: off.attempts });
    // One cluster per test bed, the agent image built once for the run.
    const beds = r.stdout.match(/^kind test bed \d+ of \d+:/gm) ?? [];
    expect(beds.length).to.equal(new Set(beds).size);
    expect(r.stdout.match(/agent image \S+ built in/g)).to.have.length(1);
    expect(r.code, out.slice(-2000)).to.equal(0);
  });
});
