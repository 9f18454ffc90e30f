/**
 * A suite's cells laid out as a matrix: rows are the combinations of the row keys' values that
 * some cell has (in sorted order), columns the same for the column keys. A key a cell lacks counts as its own value
 * (shown as —). Cells that differ only in other keys share a position.
 */
import type { CellResult, ConfigValue } from '../scenario/result.js';

/** One value per key; undefined where the cell's configuration lacks the key. */
export type Combo = readonly (ConfigValue | undefined)[];

export interface Matrix {
  rowKeys: readonly string[];
  columnKeys: readonly string[];
  rows: Combo[];
  columns: Combo[];
  /** grid[row][column]: the cells at that position, in input order. */
  grid: CellResult[][][];
}

export function buildMatrix(
  rowKeys: readonly string[],
  columnKeys: readonly string[],
  cells: readonly CellResult[],
): Matrix {
  const rows = combinations(rowKeys, cells);
  const columns = combinations(columnKeys, cells);
  const rowIndex = new Map(rows.map((c, i) => [comboId(c), i]));
  const columnIndex = new Map(columns.map((c, i) => [comboId(c), i]));
  const grid = rows.map(() => columns.map((): CellResult[] => []));
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
export function configurationKeys(cells: readonly CellResult[]): string[] {
  return [...new Set(cells.flatMap((c) => Object.keys(c.configuration)))];
}

function comboOf(keys: readonly string[], cell: CellResult): Combo {
  return keys.map((k) => valueAt(cell, k));
}

function valueAt(cell: CellResult, key: string): ConfigValue | undefined {
  return Object.hasOwn(cell.configuration, key) ? cell.configuration[key] : undefined;
}

/** The combinations some cell has, ordered as the cartesian product of each key's sorted values. */
function combinations(keys: readonly string[], cells: readonly CellResult[]): Combo[] {
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
