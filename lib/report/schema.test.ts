import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { ValidationError } from '../errors.js';
import { SCHEMA_FILE, schemaFileText } from './schema-file.js';
import { parseResults, RESULTS_SCHEMA_ID, resultsJsonSchema, validateResults } from './schema.js';
import { sampleRun } from './test-helpers.js';

function problems(
  mutate: (run: Record<string, unknown> & { cells: Record<string, unknown>[] }) => void,
): string[] {
  const run = JSON.parse(JSON.stringify(sampleRun()));
  mutate(run);
  try {
    validateResults(run, 'results.json');
  } catch (e) {
    if (e instanceof ValidationError)
      return e.problems.map((p) => `${p.path}: ${p.message} (got ${p.value})`);
    throw e;
  }
  return [];
}

describe('results schema', () => {
  it('parses what the writer writes', () => {
    const run = sampleRun();
    expect(parseResults(JSON.stringify(run, null, 2), 'results.json')).to.deep.equal(run);
  });

  it('reports text that is not JSON with its source', () => {
    expect(() => parseResults('<html>oops', 'runs/a/results.json'))
      .to.throw(ValidationError, /^runs\/a\/results\.json: 1 problem/)
      .with.property('problems')
      .that.satisfies((p: { message: string }[]) => p[0]!.message.startsWith('not JSON: '));
    expect(() => parseResults('', 'empty.json')).to.throw(ValidationError, /got \(empty\)/);
  });

  it('names the path of every problem', () => {
    const found = problems((run) => {
      const rates = run.cells[1]!['rates'] as Record<string, Record<string, unknown>>;
      rates['timeout']!['low'] = 1.5;
      run.cells[3]!['status'] = 'flaky';
      delete run.cells[0]!['flow'];
      run['state'] = 'done';
    });
    expect(found).to.have.length(4);
    expect(found).to.include(
      'cells[0].flow: Invalid input: expected string, received undefined (got (missing))',
    );
    expect(found.find((p) => p.startsWith('cells[1].rates.timeout.low: '))).to.contain('got 1.5');
    expect(found.find((p) => p.startsWith('cells[3].status: '))).to.contain('got "flaky"');
    expect(found.find((p) => p.startsWith('state: '))).to.contain('"running"');
  });

  it('rejects a suite/id that appears twice', () => {
    const found = problems((run) => {
      run.cells[2]!['id'] = 'rp0';
    });
    expect(found).to.deep.equal([
      'cells[2].id: duplicate cell eni-rp-filter/rp0 (also cells[0]); suite/id must be unique (got "rp0")',
    ]);
  });

  it('drops keys it does not know (newer files still load as a baseline)', () => {
    const run = JSON.parse(JSON.stringify(sampleRun()));
    run.cells[0].futureField = 1;
    expect(validateResults(run).cells[0]).not.to.have.property('futureField');
  });

  it('generates a draft 2020-12 JSON Schema with an $id', () => {
    const schema = resultsJsonSchema();
    expect(schema['$schema']).to.equal('https://json-schema.org/draft/2020-12/schema');
    expect(schema['$id']).to.equal(RESULTS_SCHEMA_ID);
    expect(schema['title']).to.be.a('string');
    expect(schema['required']).to.include.members(['schema', 'runId', 'cells', 'totals']);
  });

  it('is checked in as generated (node dist/lib/report/write-schema.js regenerates it)', async () => {
    expect(await readFile(SCHEMA_FILE, 'utf8')).to.equal(await schemaFileText());
  });
});
