export {
  CellResultSchema,
  parseResults,
  RESULTS_SCHEMA_ID,
  resultsJsonSchema,
  RunResultsSchema,
  validateCell,
  validateResults,
  validateRunHeader,
  type RunHeader,
} from './schema.js';
export { renderJunit } from './junit.js';
export { renderHtml } from './html.js';
export { renderSummary, type SummaryOptions } from './summary.js';
export {
  compareRuns,
  loadResults,
  provenanceWarnings,
  renderChanges,
  type Change,
  type ChangeKind,
  type Comparison,
} from './baseline.js';
export { HTML_FILE, JUNIT_FILE, RESULTS_FILE, ResultsWriter } from './writer.js';
