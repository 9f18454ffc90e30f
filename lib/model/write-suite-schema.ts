/**
 * Writes schemas/suite.schema.json from the zod schema, formatted with the repository's prettier
 * settings: `npm run schemas` (or `npm run build && node dist/lib/model/write-suite-schema.js`).
 * The drift test in suite-schema.test.ts fails until you do.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { suiteJsonSchema } from './suite-schema.js';

const file = fileURLToPath(new URL('../../../schemas/suite.schema.json', import.meta.url));
const prettier = await import('prettier');
const options = (await prettier.resolveConfig(file)) ?? {};
await writeFile(
  file,
  await prettier.format(JSON.stringify(suiteJsonSchema()), { ...options, filepath: file }),
);
console.log('wrote schemas/suite.schema.json');
