/** `returnpath validate FILE`: parse and check a topology spec without touching the kernel. */
import { loadTopology } from '../model/topology.js';
import type { CommandDecl } from './command.js';

export const validateDecl: CommandDecl = {
  name: 'validate',
  summary: 'check a topology spec (path, value and what is allowed for every problem)',
  positionals: [{ name: 'FILE', help: 'a topology spec, YAML or JSON' }],
  async run(a) {
    const file = a.positional('FILE')!;
    const t = await loadTopology(file);
    console.log(
      `${file}: ok — ${t.nodes.length} nodes, ${t.pods.length} pods, ${t.services.length} services, ` +
        `${t.loadBalancers.length} load balancers, ${t.internetClients.length} internet clients`,
    );
    return 0;
  },
};
