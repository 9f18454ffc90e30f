/**
 * `returnpath demo`: reproduces seed 001 on the built-in lab. An internal NLB with instance targets
 * and client IP preservation, a client pod inside the cluster: a share of its connections time out
 * (the NLB picked the client's own node) and the client pod sends the resets.
 */
import { fileURLToPath } from 'node:url';
import { whoSentResets } from '../evidence/attribution.js';
import { measure } from '../evidence/probe.js';
import { LabAgents } from '../lab/agents.js';
import { labContributors } from '../lab/contributors.js';
import { Lab } from '../lab/lab.js';
import { loadTopology } from '../model/topology.js';
import { nlbAddresses } from '../nlb/config.js';
import { judge, tally } from '../verdict/index.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/seed-001-hairpin.yaml', import.meta.url));

export async function demoCommand(): Promise<number> {
  const topology = await loadTopology(EXAMPLE);
  console.log(`seed 001: ${topology.description}`);
  const lab = await Lab.up(topology, { contributors: labContributors() });
  const stop = (): void => void lab.down().finally(() => process.exit(130));
  process.once('SIGINT', stop).once('SIGTERM', stop);
  try {
    console.log(`lab ${lab.runId} up: ${lab.hosts.length} namespaces`);
    const agents = new LabAgents(lab);
    const service = topology.services[0]!;
    await agents.serve(
      service.endpoints.map((p) => p.name),
      service.ports[0]!.targetPort,
    );
    await new Promise((r) => setTimeout(r, 2500)); // two health-check intervals: targets healthy
    const lb = topology.loadBalancers[0]!;
    const client = topology.pods.find((p) => p.name === 'netshoot')!;
    const targets = lb.listeners[0]!.targetGroup.targets;
    const share = targets.filter((t) => t.name === client.node).length / targets.length;
    const [vip] = nlbAddresses(topology, lb.name);
    const m = await measure([lab.host('netshoot'), lab.host(client.node)], async () =>
      (await agents.get('netshoot')).probe({
        kind: 'tcp',
        host: vip!,
        port: 80,
        attempts: 300,
        deadlineMs: 400,
      }),
    );
    const v = judge(
      { kind: 'rate', outcome: 'timeout', min: Math.max(0, share - 0.15), max: Math.min(1, share + 0.15) },
      tally(m.result.attempts.map((a) => a.outcome)),
    );
    console.log(
      `client pod ${client.name} on ${client.node} -> NLB ${vip}:80, 300 attempts: ${JSON.stringify(m.result.counts)}`,
    );
    console.log(
      `expected timeout share ${(share * 100).toFixed(0)}% (targets on the client's node / targets)`,
    );
    console.log(`verdict: ${v.status}: ${v.reason}`);
    for (const r of whoSentResets(m.deltas)) console.log(`evidence: ${r.summary}`);
    console.log(`reproduce one attempt: ${m.result.reproduce}`);
    return v.status === 'pass' ? 0 : 1;
  } finally {
    await lab.down();
  }
}
