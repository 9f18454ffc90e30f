import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadTopology } from '../model/topology.js';
import { planLab } from './build-plan.js';
import { labContributors } from './contributors.js';
import type { LabPlan } from './plan.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

/** A plan as reviewable text: per host, every batch line, sysctl, rule and process. */
export function renderPlan(plan: LabPlan): string {
  return (
    plan.hosts
      .map((h) =>
        [
          `### ${h.id} (${h.netns})`,
          ...h.sysctlsEarly.map(([k, v]) => `sysctl ${k}=${v}`),
          ...h.links.map((l) => `ip ${l}`),
          ...h.config.map((l) => `ip ${l}`),
          ...h.sysctlsLate.map(([k, v]) => `sysctl ${k}=${v}`),
          h.ruleset.render().trimEnd(),
          ...h.processes.map((p) => `process ${p.name}: ${p.argv.slice(0, 2).join(' ')}`),
        ]
          .filter((l) => l !== '')
          .join('\n'),
      )
      .join('\n\n') + '\n'
  );
}

async function golden(name: string, actual: string): Promise<void> {
  const file = `${repo}lib/lab/testdata/${name}.golden`;
  if (process.env['UPDATE_GOLDEN']) await writeFile(file, actual);
  const expected = await readFile(file, 'utf8');
  expect(actual).to.equal(expected, `${file} differs; rerun with UPDATE_GOLDEN=1 to accept`);
}

describe('lab plan (golden)', () => {
  for (const example of [
    'seed-000-eni-rp-filter',
    'seed-001-hairpin',
    'seed-002-lb-snat-policy-routing',
    'seed-003-baseline',
    'seed-004-cross-zone',
  ]) {
    it(`plans examples/${example}.yaml as before`, async () => {
      const t = await loadTopology(`${repo}examples/${example}.yaml`);
      await golden(example, renderPlan(planLab(t, 'c0ffee', labContributors())));
    });
  }

  it('keeps the VPC CNI rules in the layout of reference.md', async () => {
    const t = await loadTopology(`${repo}examples/seed-003-baseline.yaml`);
    const node = planLab(t, 'c0ffee', labContributors()).hosts.find((h) => h.id === 'node/node-a')!;
    expect(node.config).to.include.members([
      'rule add to 10.0.1.70 lookup main pref 512',
      'rule add fwmark 0x80/0x80 lookup main pref 1024',
      'rule add from 10.0.1.70 lookup 2 pref 1536',
      'rule add from 10.0.1.20 lookup 2 pref 32765',
      'route del 10.0.1.0/24 dev eth1',
    ]);
    expect(node.ruleset.lines('nat')).to.include(
      '-A AWS-SNAT-CHAIN-0 ! -o vlan+ -m comment --comment "AWS, SNAT" -m addrtype ! --dst-type LOCAL -j SNAT --to-source 10.0.1.10 --random-fully',
    );
    expect(node.sysctlsLate).to.deep.include(['net.ipv4.conf.eth0.rp_filter', '2']);
  });

  it("plans a cluster's pods as addresses of the VPC only: no pod namespace, the fabric still routes them", async () => {
    const t = await loadTopology(`${repo}examples/seed-003-baseline.yaml`);
    const plan = planLab(t, 'c0ffee', labContributors(), { podHosts: false });
    expect(plan.hosts.filter((h) => h.kind === 'pod')).to.deep.equal([]);
    const full = planLab(t, 'c0ffee', labContributors());
    const fabric = (p: typeof plan): string[] => p.hosts.find((h) => h.id === 'fabric')!.config;
    expect(fabric(plan)).to.deep.equal(fabric(full));
    expect(fabric(plan).some((l) => l.includes('10.0.2.60'))).to.equal(true);
    // No pod veth on the node: its pods' routes and rules are the cluster CNI's to make.
    const nodeA = plan.hosts.find((h) => h.id === 'node/node-a')!;
    expect(nodeA.config.filter((l) => l.includes('10.0.1.70'))).to.deep.equal([]);
  });
});
