/** Which cells a run covers: by suite id and by a regular expression over the full test title. */
import { ValidationError } from '../errors.js';
import { cellTags, fullTitle, type CellSpec, type SuiteSpec } from './cell.js';

export interface Selection {
  suites?: readonly string[];
  grep?: string;
  /** Leave out cells tagged with any of these (e.g. Disruptive). */
  excludeTags?: readonly string[];
}

export function grepRegExp(grep: string): RegExp {
  try {
    return new RegExp(grep);
  } catch (e) {
    throw new ValidationError('--grep', [
      { path: 'grep', value: grep, message: `is not a valid regular expression (${(e as Error).message})` },
    ]);
  }
}

/** The selected suites, each with its selected cells (suites left with none are dropped). */
export function selectCells(
  all: readonly SuiteSpec[],
  sel: Selection,
): { suite: SuiteSpec; cells: CellSpec[] }[] {
  const ids = all.map((s) => s.id);
  const unknown = (sel.suites ?? []).filter((s) => !ids.includes(s));
  if (unknown.length > 0)
    throw new ValidationError(
      '--suite',
      unknown.map((u) => ({ path: 'suite', value: u, message: `is not a suite; suites: ${ids.join(', ')}` })),
    );
  const re = sel.grep !== undefined ? grepRegExp(sel.grep) : undefined;
  return all
    .filter((s) => !sel.suites?.length || sel.suites.includes(s.id))
    .map((suite) => ({
      suite,
      cells: suite.cells.filter(
        (c) =>
          (!re || re.test(fullTitle(suite, c))) &&
          !(sel.excludeTags ?? []).some((t) => cellTags(c).includes(t)),
      ),
    }))
    .filter((s) => s.cells.length > 0);
}
