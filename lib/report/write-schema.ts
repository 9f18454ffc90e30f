/** Regenerates schemas/results.schema.json: `node dist/lib/report/write-schema.js`. */
import { writeFile } from 'node:fs/promises';
import { SCHEMA_FILE, schemaFileText } from './schema-file.js';

await writeFile(SCHEMA_FILE, await schemaFileText());
console.log(`wrote ${SCHEMA_FILE}`);
