import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadTopology, validateTopology } from '../model/topology.js';
import { kindConfig, renderKindConfig } from './config.js';
import { kindBedConfig, kindBedProblems } from './testbed.js';
import { KindRun } from './kind-run.js';
import { suiteById } from '../../suites/catalog.js';
import { testbeds } from '../cluster/testbed-topology.js';
import { withCniImplementation } from '../scenario/implementation.js';
import { cellKey } from '../scenario/cell.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

describe('kind test bed: the cluster a topology asks for', () => {
  it('a control plane outside the VPC and one worker per node, registered under its name, with the cluster CIDRs', async () => {
    const t = await loadTopology(`${repo}examples/seed-003-baseline.yaml`);
    const c = await kindBedConfig(t, 'rp-c0ffee', 'iptables');
    expect(c.name).to.equal('rp-c0ffee');
    expect(c.networking).to.include({
      disableDefaultCNI: true,
      kubeProxyMode: 'iptables',
      podSubnet: '10.0.0.0/16',
      serviceSubnet: '172.20.0.0/16',
    });
    expect(c.nodes.map((n) => n.role)).to.deep.equal(['control-plane', 'worker', 'worker', 'worker']);
    expect(
      c.nodes.slice(1).map((n) => parse((n['kubeadmConfigPatches'] as string[])[0]!) as unknown),
    ).to.deep.equal(
      ['node-a', 'node-b', 'node-c'].map((name) => ({
        kind: 'JoinConfiguration',
        nodeRegistration: { name },
      })),
    );
    // The settings this machine forces stay (kind-config/cluster.yaml), and kind's own checks pass.
    expect(c.kubeadmConfigPatches?.join('\n')).to.include('failCgroupV1: false');
    expect(() => kindConfig(renderKindConfig(c), 'bed', { name: 'rp-c0ffee' })).not.to.throw();
    expect(kindBedProblems(t)).to.deep.equal([]);
  });

  it('names every node whose CNI kind cannot run (the real VPC CNI of the current generation only)', async () => {
    const t = await loadTopology(`${repo}examples/seed-003-baseline.yaml`);
    const doc = {
      apiVersion: 'returnpath/v1',
      kind: 'Topology',
      metadata: { name: 'mixed' },
      vpc: {
        cidrs: ['10.0.0.0/16'],
        zones: [{ name: 'az-a', subnets: [{ name: 's', cidr: '10.0.1.0/24' }] }],
      },
      nodes: [
        {
          name: 'old',
          subnet: 's',
          cni: { profile: 'vpc-cni-legacy' },
          enis: [{ name: 'eth0', address: '10.0.1.10' }],
        },
        {
          name: 'policy',
          subnet: 's',
          cni: { profile: 'eni-policy-routing' },
          enis: [{ name: 'eth0', address: '10.0.1.11' }],
        },
        {
          name: 'bastion',
          subnet: 's',
          cni: { profile: 'none' },
          enis: [{ name: 'eth0', address: '10.0.1.12' }],
        },
      ],
    };
    const problems = kindBedProblems(validateTopology(doc));
    expect(problems).to.have.length(2);
    expect(problems[0]).to.match(
      /^node old: CNI .*legacy.*; a kind node runs the real VPC CNI \(current generation\) only$/,
    );
    expect(problems[1]).to.match(/^node policy: CNI /);
    expect(t.nodes).to.have.length(3);
  });

  it("runs each test bed's cells together, so each kind cluster is made once; the real VPC CNI in every bed", () => {
    const cells = suiteById('nlb-hairpin').cells;
    const run = new KindRun({ run: 'r1', cells });
    const ordered = run.order(cells);
    expect(ordered.map(cellKey).sort()).to.deep.equal(cells.map(cellKey).sort());
    const beds = testbeds(cells.map((c) => withCniImplementation(c, { implementation: 'real' })));
    expect(run.clusters).to.equal(beds.length).and.to.be.greaterThan(1);
    const bedOf = new Map(beds.flatMap((b, i) => b.cells.map((c) => [cellKey(c), i] as const)));
    const sequence = ordered.map((c) => bedOf.get(cellKey(c))!);
    // Each bed's cells are one run of the sequence (the bed is made once), in the suite's order.
    expect(sequence.filter((b, i) => i === 0 || b !== sequence[i - 1])).to.deep.equal(beds.map((_, i) => i));
    for (const b of beds)
      expect(b.doc['defaults']).to.deep.include({ cni: { profile: 'vpc-cni', implementation: 'real' } });
  });
});
