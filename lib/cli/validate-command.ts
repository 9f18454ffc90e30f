/** `returnpath validate FILE`: parse and check a topology spec without touching the kernel. */
import { loadTopology } from '../model/topology.js';
import { usage } from './args.js';

export async function validateCommand(argv: readonly string[]): Promise<number> {
  const file = argv[0];
  if (!file || argv.length > 1)
    throw usage('validate', argv.join(' ') || '(missing)', 'usage: validate FILE');
  const t = await loadTopology(file);
  console.log(
    `${file}: ok — ${t.nodes.length} nodes, ${t.pods.length} pods, ${t.services.length} services, ` +
      `${t.loadBalancers.length} load balancers, ${t.internetClients.length} internet clients`,
  );
  return 0;
}
