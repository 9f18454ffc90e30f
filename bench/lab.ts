/** Lab benchmark: time to bring a topology up and down, and how many commands it took. */
import { CommandRunner } from '../lib/exec/command.js';
import { labContributors } from '../lib/lab/contributors.js';
import { Lab } from '../lib/lab/lab.js';
import type { TopologyInput } from '../lib/model/schema.js';
import { validateTopology } from '../lib/model/topology.js';

/** n nodes over 2 zones (one secondary ENI each), `podsPerNode` pods alternating ENIs, one Service. */
export function syntheticTopology(nodes: number, podsPerNode: number): TopologyInput {
  const zones = ['a', 'b'];
  const nodeSpecs = Array.from({ length: nodes }, (_, i) => {
    const z = i % 2;
    return {
      name: `node-${i}`,
      subnet: `s${z}`,
      enis: [
        { name: 'eth0', address: `10.${10 + z}.${Math.floor(i / 2)}.10` },
        { name: 'eth1', address: `10.${10 + z}.${Math.floor(i / 2)}.11` },
      ],
    };
  });
  const pods = nodeSpecs.flatMap((n, i) =>
    Array.from({ length: podsPerNode }, (_, j) => ({
      name: `pod-${i}-${j}`,
      node: n.name,
      eni: j % 2 === 0 ? 'eth0' : 'eth1',
      address: `10.${10 + (i % 2)}.${Math.floor(i / 2)}.${20 + j}`,
    })),
  );
  return {
    apiVersion: 'returnpath/v1',
    kind: 'Topology',
    metadata: { name: `bench-${nodes}x${podsPerNode}` },
    vpc: {
      cidrs: ['10.0.0.0/8'],
      zones: zones.map((z, k) => ({ name: z, subnets: [{ name: `s${k}`, cidr: `10.${10 + k}.0.0/16` }] })),
    },
    defaults: { cni: { profile: 'vpc-cni' } },
    cluster: { serviceCIDR: '172.20.0.0/16' },
    nodes: nodeSpecs,
    pods,
    services: [
      {
        name: 'web',
        type: 'NodePort',
        clusterIP: '172.20.0.10',
        ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
        endpoints: pods.filter((_, i) => i % 10 === 0).map((p) => p.name),
      },
    ],
  };
}

export async function benchLab(nodes: number, podsPerNode: number): Promise<Record<string, string>> {
  const topology = validateTopology(syntheticTopology(nodes, podsPerNode));
  const runner = new CommandRunner();
  const t0 = performance.now();
  const lab = await Lab.up(topology, { runner, contributors: labContributors() });
  const up = performance.now() - t0;
  const upCommands = runner.commandsRun;
  const t1 = performance.now();
  await lab.down();
  const down = performance.now() - t1;
  const label = `${nodes} nodes / ${nodes * podsPerNode} pods`;
  return {
    [`lab up, ${label}`]: `${(up / 1000).toFixed(2)} s (${upCommands} commands, ${lab.hosts.length} namespaces)`,
    [`lab down, ${label}`]: `${(down / 1000).toFixed(2)} s (${runner.commandsRun - upCommands} commands)`,
  };
}
