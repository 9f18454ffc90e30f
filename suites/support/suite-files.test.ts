/**
 * The built-in suites written as data (suites/*.suite.yaml) against their TypeScript originals: the
 * cells the TypeScript tables generated, saved before the tables were removed
 * (suites/testdata/*.ts-original.json), must be exactly the cells the files expand to. The same
 * engine runs both, so the same cells give the same verdicts.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { expandSuite, loadSuiteFileSync } from '../../lib/scenario/suite-file.js';
import { suiteYaml } from '../../lib/scenario/suite-document.js';
import { builtinSuiteFile, suiteById } from '../catalog.js';

const testdata = (name: string): string =>
  fileURLToPath(new URL(`../../../suites/testdata/${name}`, import.meta.url));
const example = (name: string): string =>
  fileURLToPath(new URL(`../../../examples/${name}`, import.meta.url));

describe('suites as data files', () => {
  for (const id of ['baseline', 'cross-zone-collision'])
    it(`${id}: suites/${id}.suite.yaml expands to exactly the cells of its TypeScript original`, () => {
      const original = JSON.parse(readFileSync(testdata(`${id}.ts-original.json`), 'utf8')) as {
        cells: { id: string }[];
        rows: string[];
        columns: string[];
        title: string;
      };
      const suite = JSON.parse(
        JSON.stringify(loadSuiteFileSync(builtinSuiteFile(id), { builtin: true })),
      ) as typeof original;
      expect(suite.cells.map((c) => c.id)).to.deep.equal(original.cells.map((c) => c.id));
      for (const c of original.cells)
        expect(
          suite.cells.find((x) => x.id === c.id),
          c.id,
        ).to.deep.equal(c);
      expect([suite.title, suite.rows, suite.columns]).to.deep.equal([
        original.title,
        original.rows,
        original.columns,
      ]);
    });

  it('the catalog loads those suites from their files (no file path in their reproduce lines)', () => {
    expect(suiteById('baseline').source).to.equal(undefined);
    expect(suiteById('cross-zone-collision').cells.map((c) => c.id)).to.include(
      'cross-zone-on.preserve-on.three-zones',
    );
  });

  it('the example that is not a seed expands, and names its file for reproduce lines', () => {
    const s = loadSuiteFileSync(example('hardened-image.suite.yaml'), {
      display: 'examples/hardened-image.suite.yaml',
    });
    expect(s.source).to.deep.equal({ kind: 'file', path: 'examples/hardened-image.suite.yaml' });
    expect(s.cells.filter((c) => !c.pathWorks).map((c) => c.id)).to.deep.equal([
      'nlb-ip-secondary-eni.vpc-cni-legacy',
      'pod-to-loadbalancer-ip.eni-policy-routing',
    ]);
    for (const c of s.cells) expect(c.topology).to.have.nested.property('nodes[0].sysctls.all.rp_filter', 1);
  });

  for (const id of ['cross-zone-collision', 'chaos', 'nlb-hairpin'])
    it(`${id}: written as a suite file (as certify saves its suite) it reads back to the same cells`, () => {
      const built = suiteById(id);
      const back = expandSuite(parse(suiteYaml(built)), {
        path: '/tmp/saved.suite.yaml',
        display: 'saved.suite.yaml',
      });
      expect(JSON.parse(JSON.stringify(back.cells))).to.deep.equal(JSON.parse(JSON.stringify(built.cells)));
    });
});
