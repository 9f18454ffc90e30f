/** Topology documents for the suites: the seed examples, parsed once, cloned per cell. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));
const cache = new Map<string, unknown>();

/** A deep copy of examples/NAME.yaml as a plain object, free to modify. */
export function example(name: string): Doc {
  let doc = cache.get(name);
  if (doc === undefined) {
    doc = parse(readFileSync(`${EXAMPLES}${name}.yaml`, 'utf8')) as unknown;
    cache.set(name, doc);
  }
  return structuredClone(doc) as Doc;
}

/** A topology document: loose on purpose, validated by the model when the cell runs. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Doc = Record<string, any>;

/** The named entry of a list in a document (nodes, pods, loadBalancers, ...). */
export function named(list: Doc[], name: string): Doc {
  const found = list.find((x) => x['name'] === name);
  if (!found) throw new Error(`document has no entry named ${name}`);
  return found;
}
