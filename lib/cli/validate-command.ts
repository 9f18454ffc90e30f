/**
 * `returnpath validate FILE`: parse and check a topology spec or a suite file without touching the
 * kernel. A suite is expanded as `run --file` would (every cell's topology validated, its flow
 * resolved, its expectation checked); every problem is reported with its path in the file.
 */
import { readFile } from 'node:fs/promises';
import { validateTopology } from '../model/topology.js';
import { cellTags } from '../scenario/cell.js';
import { expandSuite, isSuiteDocument, parseDocument } from '../scenario/suite-file.js';
import { usage } from './args.js';

export async function validateCommand(argv: readonly string[]): Promise<number> {
  const file = argv[0];
  if (!file || argv.length > 1)
    throw usage('validate', argv.join(' ') || '(missing)', 'usage: validate FILE');
  const data = parseDocument(await readFile(file, 'utf8'), file);
  if (isSuiteDocument(data)) {
    const suite = expandSuite(data, { path: file });
    const broken = suite.cells.filter((c) => !c.pathWorks).length;
    const chaos = suite.cells.filter((c) => cellTags(c).includes('Chaos')).length;
    console.log(
      `${file}: ok — suite ${suite.id}, ${suite.cells.length} cells (${broken} with a broken path, ${chaos} chaos); ` +
        `run it with: returnpath run --file ${file}`,
    );
    for (const c of suite.cells) console.log(`  ${c.suite}/${c.id}`);
    return 0;
  }
  const t = validateTopology(data, file);
  console.log(
    `${file}: ok — ${t.nodes.length} nodes, ${t.pods.length} pods, ${t.services.length} services, ` +
      `${t.loadBalancers.length} load balancers, ${t.internetClients.length} internet clients`,
  );
  return 0;
}
