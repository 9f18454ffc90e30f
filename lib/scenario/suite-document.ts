/**
 * A SuiteSpec written back as a suite file (every cell explicit, its topology inline): what a run
 * saves for a suite built at run time (certification), so that its cells' reproduce lines
 * (`lab up --file ... --cell ...`) have a file to name. expandSuite reads it back to the same cells.
 */
import { stringify } from 'yaml';
import { SUITE_API_VERSION } from '../model/suite-schema.js';
import type { CellSpec, SuiteSpec } from './cell.js';

function cellDocument(c: CellSpec): Record<string, unknown> {
  return {
    id: c.id,
    title: c.title,
    seeds: c.seeds,
    configuration: c.configuration,
    topology: { inline: c.topology },
    flow: c.flow,
    expect: c.expect,
    pathWorks: c.pathWorks,
    ...(c.mechanism && { mechanism: c.mechanism }),
    explanation: c.explanation,
    ...(c.extraTags && { tags: c.extraTags }),
    ...(c.disruptive && { disruptive: true }),
    ...(c.chaos && { chaos: c.chaos }),
  };
}

export function suiteDocument(s: SuiteSpec, description?: string): Record<string, unknown> {
  return {
    apiVersion: SUITE_API_VERSION,
    kind: 'Suite',
    metadata: { name: s.id, title: s.title, ...(description && { description }) },
    seeds: s.seeds,
    layout: { rows: s.rows, columns: s.columns },
    cells: s.cells.map(cellDocument),
  };
}

export function suiteYaml(s: SuiteSpec, description?: string): string {
  return stringify(suiteDocument(s, description));
}
