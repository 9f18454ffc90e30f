/** The suites a command works on: the built-in ones, or those of a suite file (`--file`). */
import type { SuiteSpec } from '../scenario/cell.js';
import { loadSuiteFile } from '../scenario/suite-file.js';
import { SUITES } from '../../suites/catalog.js';

export async function loadSuites(file?: string): Promise<readonly SuiteSpec[]> {
  return file ? [await loadSuiteFile(file)] : SUITES;
}
