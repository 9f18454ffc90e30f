import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { ValidationError } from '../errors.js';
import { suiteJsonSchema } from '../model/suite-schema.js';
import { expandSuite, isSuiteDocument } from './suite-file.js';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));

/** A small suite over seed 004's topology; `extra` is merged in. */
function suite(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'returnpath/v1',
    kind: 'Suite',
    metadata: { name: 'mine', title: 'Mine' },
    layout: { rows: ['crossZone'], columns: [] },
    topology: { file: 'seed-004-cross-zone.yaml' },
    axes: {
      crossZone: {
        values: [
          { value: true, label: 'on' },
          { value: false, label: 'off' },
        ],
        patch: [{ set: 'loadBalancers[name=istio-nlb].crossZone' }],
      },
    },
    matrix: {
      cell: {
        id: 'cz-{crossZone}',
        title: 'cross-zone {crossZone} ({crossZone:value}): {share}',
        flow: {
          from: 'bastion',
          to: { nlb: 'istio-nlb', port: 80 },
          attempts: 80,
          localPortRange: [40000, 40039],
        },
        expect: { outcome: { derive: 'collision' } },
        explanation: 'expected share {share}',
      },
    },
    ...extra,
  };
}

const expand = (data: unknown) => expandSuite(data, { path: `${examples}mine.yaml`, display: 'mine.yaml' });

function problems(data: unknown): string[] {
  try {
    expand(data);
  } catch (e) {
    if (e instanceof ValidationError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

describe('suite files', () => {
  it('crosses the axes, patches the topology per value, fills templates and derives the outcome', () => {
    const s = expand(suite());
    expect(s.cells.map((c) => c.id)).to.deep.equal(['cz-on', 'cz-off']);
    const [on, off] = s.cells;
    expect(on!.title).to.equal('cross-zone on (true): 25%');
    expect(on!.expect.outcome).to.deep.equal({ kind: 'rate', outcome: 'timeout', min: 0.1, max: 0.4 });
    expect(on!.pathWorks).to.equal(false);
    expect(off!.expect.outcome).to.deep.equal({ kind: 'all', outcome: 'connected' });
    expect(off!.pathWorks).to.equal(true);
    expect(on!.configuration).to.deep.equal({ crossZone: true });
    expect(
      (off!.topology as { loadBalancers: { crossZone: boolean }[] }).loadBalancers[0]!.crossZone,
    ).to.equal(false);
    expect(s.source).to.deep.equal({ kind: 'file', path: 'mine.yaml' });
  });

  it('rules set fields for the combinations they match; skip leaves combinations out; cells add explicit ones', () => {
    const s = expand(
      suite({
        matrix: {
          ...(suite()['matrix'] as object),
          rules: [{ when: { crossZone: true }, set: { mechanism: '5-tuple collision' } }],
          skip: [{ crossZone: false }],
        },
        cells: [
          {
            where: { crossZone: false },
            id: 'one-target',
            title: 'one target',
            patch: [
              { set: 'loadBalancers[0].targetGroups[0].targets', value: [{ node: 'node-a', port: 32411 }] },
              { set: 'loadBalancers[0].crossZone', value: true },
              { append: 'pods', value: { name: 'extra', node: 'node-b', address: '10.0.2.99' } },
              { remove: 'pods[name=app-client]' },
            ],
            flow: { from: 'bastion', to: { nlb: 'istio-nlb', port: 80 } },
            expect: { outcome: { derive: 'collision' } },
            explanation: 'one target: {share}',
          },
        ],
      }),
    );
    expect(s.cells.map((c) => c.id)).to.deep.equal(['cz-on', 'one-target']);
    expect(s.cells[0]!.mechanism).to.equal('5-tuple collision');
    const one = s.cells[1]!;
    expect(one.explanation).to.equal('one target: 50%');
    expect(one.configuration).to.deep.equal({ crossZone: false });
    const pods = (one.topology as { pods: { name: string }[] }).pods.map((p) => p.name);
    expect(pods).to.include('extra').and.not.include('app-client');
  });

  it('derives 5/12 for three NLB nodes and two targets', () => {
    const s = expand(
      suite({
        cells: [
          {
            where: { crossZone: true },
            id: 'three',
            title: 'three zones',
            patch: [
              {
                append: 'vpc.zones',
                value: { name: 'az-c', subnets: [{ name: 'private-c', cidr: '10.0.3.0/24' }] },
              },
              { append: 'loadBalancers[0].nodes', value: { zone: 'az-c', address: '10.0.3.100' } },
            ],
            flow: { from: 'bastion', to: { nlb: 'istio-nlb', port: 80 } },
            expect: { outcome: { derive: 'collision', margin: 0.1 } },
            explanation: '{share}',
          },
        ],
        matrix: undefined,
      }),
    );
    expect(s.cells[0]!.explanation).to.equal('41.7%');
    expect(s.cells[0]!.expect.outcome).to.deep.equal({
      kind: 'rate',
      outcome: 'timeout',
      min: 0.317,
      max: 0.517,
    });
  });

  it('reports every problem with its path in the file', () => {
    expect(problems({ ...suite(), kind: 'Topology' })).to.deep.equal([
      'kind: Invalid input: expected "Suite"',
    ]);
    expect(problems(suite({ extra: 1 }))[0]).to.match(/unknown key\(s\) "extra"/);
    const badPatch = suite();
    (badPatch['axes'] as { crossZone: { patch: unknown } }).crossZone.patch = [
      { set: 'loadBalancers[name=nope].crossZone' },
    ];
    expect(problems(badPatch)).to.deep.equal([
      'axes.crossZone.patch[0]: finds nothing at loadBalancers[name=nope] in the topology',
    ]);
    const badFlow = suite();
    (badFlow['matrix'] as { cell: { flow: { to: { port: number } } } }).cell.flow.to.port = 81;
    expect(problems(badFlow)).to.deep.equal([
      'matrix[crossZone=true] (cz-on).flow.to.port: istio-nlb has no listener on 81',
      'matrix[crossZone=false] (cz-off).flow.to.port: istio-nlb has no listener on 81',
    ]);
    const badRate = suite();
    (badRate['matrix'] as { cell: { expect: unknown } }).cell.expect = {
      outcome: { kind: 'rate', outcome: 'timeout', min: 0.5, max: 0.2 },
    };
    expect(problems(badRate)[0]).to.equal(
      'matrix[crossZone=true] (cz-on).expect.outcome.min: must not exceed max (0.2)',
    );
    expect(problems(suite({ topology: { file: 'nope.yaml' } }))[0]).to.match(
      /^matrix\[crossZone=true\]\.topology\.file: cannot be read/,
    );
    const badTopology = suite();
    (badTopology['matrix'] as { cell: Record<string, unknown> }).cell['patch'] = [
      { set: 'nodes[name=node-a].subnet', value: 'nowhere' },
    ];
    expect(problems(badTopology)[0]).to.match(
      /^matrix\[crossZone=true\] \(cz-on\)\.topology\.nodes\[0\]\.subnet: /,
    );
  });

  it('tells suites from topologies', () => {
    expect(isSuiteDocument(suite())).to.equal(true);
    expect(isSuiteDocument({ kind: 'Topology' })).to.equal(false);
  });

  it('schemas/suite.schema.json is the generated one (npm run schemas after changing the schema)', () => {
    const file = fileURLToPath(new URL('../../../schemas/suite.schema.json', import.meta.url));
    expect(
      JSON.parse(readFileSync(file, 'utf8')),
      'schemas/suite.schema.json is stale: npm run schemas',
    ).to.deep.equal(JSON.parse(JSON.stringify(suiteJsonSchema())));
  });
});
