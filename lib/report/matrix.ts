/**
 * A suite's cells laid out as a matrix: rows are the combinations of the row keys' values that
 * some cell has (in sorted order), columns the same for the column keys. A key a cell lacks counts as its own value
 * (shown as —). Cells that differ only in other keys share a position.
 */
import type { Configuration, ConfigValue } from '../scenario/result.js';

/** What the matrix lays out: anything with a configuration (a result, or a planned cell that did not run). */
export interface Placed {
  configuration: Configuration;
}

/** One value per key; undefined where the cell's configuration lacks the key. */
export type Combo = readonly (ConfigValue | undefined)[];

export interface Matrix<T extends Placed = Placed> {
  rowKeys: readonly string[];
  columnKeys: readonly string[];
  rows: Combo[];
  columns: Combo[];
  /** grid[row][column]: the cells at that position, in input order. */
  grid: T[][][];
}

export function buildMatrix<T extends Placed>(
  rowKeys: readonly string[],
  columnKeys: readonly string[],
  cells: readonly T[],
): Matrix<T> {
  const rows = combinations(rowKeys, cells);
  const columns = combinations(columnKeys, cells);
  const rowIndex = new Map(rows.map((c, i) => [comboId(c), i]));
  const columnIndex = new Map(columns.map((c, i) => [comboId(c), i]));
  const grid = rows.map(() => columns.map((): T[] => []));
  for (const cell of cells) {
    const r = rowIndex.get(comboId(comboOf(rowKeys, cell)))!;
    const c = columnIndex.get(comboId(comboOf(columnKeys, cell)))!;
    grid[r]![c]!.push(cell);
  }
  return { rowKeys, columnKeys, rows, columns, grid };
}

/** `rp_filter=1`, `externalSNAT=—`: one entry per key. */
export function comboLabels(keys: readonly string[], combo: Combo): string[] {
  return keys.map((k, i) => `${k}=${combo[i] === undefined ? '—' : String(combo[i])}`);
}

/** The keys of every cell's configuration, in first-seen order: the layout of a suite without a summary. */
export function configurationKeys(cells: readonly Placed[]): string[] {
  return [...new Set(cells.flatMap((c) => Object.keys(c.configuration)))];
}

function comboOf(keys: readonly string[], cell: Placed): Combo {
  return keys.map((k) => valueAt(cell, k));
}

function valueAt(cell: Placed, key: string): ConfigValue | undefined {
  return Object.hasOwn(cell.configuration, key) ? cell.configuration[key] : undefined;
}

/** The combinations some cell has, ordered as the cartesian product of each key's sorted values. */
function combinations(keys: readonly string[], cells: readonly Placed[]): Combo[] {
  const present = new Set(cells.map((c) => comboId(comboOf(keys, c))));
  return keys
    .reduce<Combo[]>(
      (combos, key) => {
        const values = distinct(cells.map((c) => valueAt(c, key)));
        return combos.flatMap((combo) => values.map((v) => [...combo, v]));
      },
      [[]],
    )
    .filter((combo) => present.has(comboId(combo)));
}

function distinct(values: (ConfigValue | undefined)[]): (ConfigValue | undefined)[] {
  const seen = new Map<string, ConfigValue | undefined>();
  for (const v of values) seen.set(valueId(v), v);
  return [...seen.values()].sort(compareValues);
}

const TYPE_RANK: Record<string, number> = { boolean: 0, number: 1, string: 2, undefined: 3 };

/** false < true < numbers ascending < strings < absent. */
function compareValues(a: ConfigValue | undefined, b: ConfigValue | undefined): number {
  const rank = TYPE_RANK[typeof a]! - TYPE_RANK[typeof b]!;
  if (rank !== 0 || a === undefined || b === undefined) return rank;
  return a < b ? -1 : a > b ? 1 : 0;
}

function valueId(v: ConfigValue | undefined): string {
  return v === undefined ? 'undefined' : `${typeof v}:${String(v)}`;
}

function comboId(combo: Combo): string {
  return combo.map(valueId).join('\u0000');
}

/**
 * Header spans of a pivot table: for each combination and each key, the span of the header cell
 * that starts there (consecutive combinations sharing the values of that key and every key before
 * it merge), or 0 where an earlier header cell already covers it.
 */
export function headerSpans(combos: readonly Combo[], keys: readonly string[]): number[][] {
  const same = (a: Combo, b: Combo, upTo: number): boolean =>
    a.slice(0, upTo + 1).every((v, i) => valueId(v) === valueId(b[i]));
  return combos.map((combo, i) =>
    keys.map((_, k) => {
      if (i > 0 && same(combos[i - 1]!, combo, k)) return 0;
      let n = 1;
      while (i + n < combos.length && same(combos[i + n]!, combo, k)) n++;
      return n;
    }),
  );
}

/** A value as a header shows it: `—` when absent. */
export function valueLabel(v: ConfigValue | undefined): string {
  return v === undefined ? '—' : String(v);
}
