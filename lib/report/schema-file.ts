/**
 * schemas/results.schema.json: the generated JSON Schema as checked in (formatted by prettier so
 * `prettier --check` accepts it). Dev-time only: prettier is a dev dependency.
 */
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { resultsJsonSchema } from './schema.js';

/** Absolute path of schemas/results.schema.json in the source tree (also when running from dist/). */
export const SCHEMA_FILE = fileURLToPath(new URL('../../../schemas/results.schema.json', import.meta.url));

export async function schemaFileText(): Promise<string> {
  const options = (await prettier.resolveConfig(SCHEMA_FILE)) ?? {};
  return prettier.format(JSON.stringify(resultsJsonSchema(), null, 2) + '\n', { ...options, parser: 'json' });
}
