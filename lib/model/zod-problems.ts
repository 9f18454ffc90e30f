/**
 * zod issues as ValidationProblems (path, value, what is allowed), shared by every file format the
 * project reads: topologies, results, snapshots, certificates.
 */
import type { z } from 'zod';
import { ValidationError, type ValidationProblem } from '../errors.js';

/** `cells[3].rates.timeout.low` */
export function renderPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)),
    '',
  );
}

/** A value as a problem shows it: JSON, cut at 80 characters; `(missing)` for undefined. */
export function renderValue(value: unknown): string {
  if (value === undefined) return '(missing)';
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export function zodProblem(issue: z.core.$ZodIssue): ValidationProblem {
  const path = renderPath(issue.path);
  const input = (issue as { input?: unknown }).input;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `"${k}"`).join(', ');
    return { path, value: keys, message: `unknown key(s) ${keys}; check the spelling against the schema` };
  }
  if (issue.code === 'invalid_key') {
    const inner = issue.issues[0]?.message ?? issue.message;
    return { path, value: renderValue(input), message: `invalid key: ${inner}` };
  }
  if (issue.code === 'invalid_union' && 'errors' in issue) {
    // The branch the value was meant for (its type matched) says what is wrong with it.
    const type = input === null ? 'null' : Array.isArray(input) ? 'array' : typeof input;
    const otherType = (i: z.core.$ZodIssue): boolean =>
      i.code === 'invalid_type' &&
      i.path.length === 0 &&
      i.expected !== type &&
      !(i.expected === 'int' && type === 'number');
    const meant = issue.errors.filter((branch) => branch.length > 0 && !branch.every(otherType));
    const inner = meant.length === 1 ? meant[0]![0] : undefined;
    if (inner)
      return zodProblem({ ...inner, path: [...issue.path, ...inner.path], input } as z.core.$ZodIssue);
  }
  return { path, value: renderValue(input), message: issue.message };
}

/** Parse `data` with `schema`, or throw a ValidationError naming `source` and every problem. */
export function validateWith<S extends z.ZodType>(schema: S, data: unknown, source: string): z.infer<S> {
  const parsed = schema.safeParse(data, { reportInput: true });
  if (!parsed.success) throw new ValidationError(source, parsed.error.issues.map(zodProblem));
  return parsed.data;
}

/** JSON text, or a ValidationError saying it is not JSON (with the start of the text). */
export function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const start = text.trim() === '' ? '(empty)' : renderValue(text.trimStart().slice(0, 40));
    throw new ValidationError(source, [
      { path: '', value: start, message: `not JSON: ${(e as Error).message}` },
    ]);
  }
}
