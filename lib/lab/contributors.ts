/** The layers that build on the base lab, in the order they add to a plan. */
import { healthCheckServers } from '../kube-proxy/healthcheck.js';
import { kubeProxyRuleset } from '../kube-proxy/rules.js';
import { nlbContributor } from '../nlb/plan.js';
import type { Topology } from '../model/topology.js';
import { realCniStage } from '../cni/real/stage.js';
import type { PlanContributor } from './build-plan.js';
import type { LabStage } from './lab.js';
import type { PlanBuilder } from './plan.js';

/** kube-proxy's rules on every node; its jumps come before the CNI's, as kube-proxy prepends them. */
export const kubeProxyContributor: PlanContributor = {
  contribute(b: PlanBuilder, topology: Topology): void {
    if (topology.services.length === 0) return;
    for (const node of topology.nodes) {
      const host = b.get(`node/${node.name}`);
      host.ruleset = kubeProxyRuleset(topology, node.name).merge(host.ruleset);
      const hc = healthCheckServers(topology, node.name);
      if (hc.length > 0)
        host.processes.push({
          name: 'kube-proxy health check server',
          argv: ['{node}', '{dist}/lib/kube-proxy/healthcheck-server.js', JSON.stringify(hc)],
          readyLine: 'listening',
          readyCount: hc.length,
          // In a lab left up, stdin closes when `lab up` exits: keep serving.
          detachedArgv: ['--detached'],
        });
    }
  },
};

export function labContributors(): PlanContributor[] {
  return [kubeProxyContributor, nlbContributor];
}

/** The real components a topology asks for, in the order they come up (the real CNI first). */
export function labStages(topology: Topology): LabStage[] {
  return [realCniStage(topology)].filter((s): s is LabStage => s !== undefined);
}
