/**
 * `returnpath validate FILE`: parse and check a topology spec or a suite file without touching the
 * kernel. A suite is expanded as `run --file` would (every cell's topology validated, its flow
 * resolved, its expectation checked); every problem is reported with its path in the file.
 */
import { dirname } from 'node:path';
import { readTextInput } from '../files.js';
import { parseTopology } from '../model/topology.js';
import { cellTags } from '../scenario/cell.js';
import { expandSuite, isSuiteDocument, parseDocument } from '../scenario/suite-file.js';
import type { CommandDecl } from './command.js';

export const validateDecl: CommandDecl = {
  name: 'validate',
  summary: 'check a topology spec or a suite file (path, value and what is allowed for every problem)',
  positionals: [{ name: 'FILE', help: 'a topology spec or a suite file (kind: Suite), YAML or JSON' }],
  async run(a) {
    const file = a.positional('FILE')!;
    const text = await readTextInput(file, 'topology spec or suite file');
    const data = parseDocument(text, file);
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
    const t = parseTopology(text, file, { baseDir: dirname(file) });
    console.log(
      `${file}: ok — ${t.nodes.length} nodes, ${t.pods.length} pods, ${t.services.length} services, ` +
        `${t.loadBalancers.length} load balancers, ${t.internetClients.length} internet clients`,
    );
    return 0;
  },
};
