import { expect } from 'chai';
import { ValidationError } from '../errors.js';
import type { CellSpec, SuiteSpec } from './cell.js';
import { selectCells } from './select.js';

const cell = (suite: string, id: string, outcome = 'connected'): CellSpec =>
  ({
    suite,
    id,
    title: `title ${id}`,
    seeds: ['000'],
    configuration: {},
    topology: {},
    flow: { from: 'a', to: { pod: 'b', port: 1 } },
    expect: { outcome: { kind: 'all', outcome } },
    pathWorks: true,
    explanation: '',
  }) as CellSpec;

const suites: SuiteSpec[] = [
  {
    id: 'one',
    title: 'One',
    seeds: [],
    rows: [],
    columns: [],
    cells: [cell('one', 'a'), cell('one', 'b', 'timeout')],
  },
  { id: 'two', title: 'Two', seeds: [], rows: [], columns: [], cells: [cell('two', 'c')] },
];

describe('cell selection', () => {
  it('selects by suite id and keeps suite order', () => {
    expect(selectCells(suites, { suites: ['two'] }).map((s) => s.suite.id)).to.deep.equal(['two']);
    expect(selectCells(suites, {}).flatMap((s) => s.cells.map((c) => c.id))).to.deep.equal(['a', 'b', 'c']);
  });

  it('greps the full title, tags included', () => {
    const slow = selectCells(suites, { grep: '\\[Slow\\]' });
    expect(slow.flatMap((s) => s.cells.map((c) => c.id))).to.deep.equal(['b']);
    expect(selectCells(suites, { grep: '^two: ' }).map((s) => s.suite.id)).to.deep.equal(['two']);
  });

  it('names unknown suites and bad expressions', () => {
    expect(() => selectCells(suites, { suites: ['three'] }))
      .to.throw(ValidationError)
      .with.property('message')
      .that.contains('suites: one, two');
    expect(() => selectCells(suites, { grep: '(' })).to.throw(ValidationError, /regular expression/);
  });
});
