/**
 * `returnpath lab up --cell SUITE/ID [--file SUITE.yaml] [--run-id ID]`: a cell's lab, left up with
 * its servers, NLB agents and health checks running until `lab down`, so the cell's reproduce lines
 * work as printed; and `returnpath lab probe RUN HOST KIND ADDR[,ADDR] PORT [options]`: the cell's
 * probe from inside a host of a lab (the probe-cli of this installation, run in that namespace).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LabHandle } from '../lab/lab.js';
import type { CellLab } from '../scenario/cell-lab.js';
import type { CellSpec, SuiteSpec } from '../scenario/cell.js';
import { probeLine, type CellSource } from '../scenario/reproduce.js';
import { parseProbeArgs } from '../traffic/probe-cli.js';
import { UsageError, type Args, type OptionDecl } from './command.js';
import { applyCniChoice, cniChoice } from './cni-flags.js';
import { loadSuites } from './suite-source.js';

const PROBE_CLI = fileURLToPath(new URL('../traffic/probe-cli.js', import.meta.url));

/** The cell `SUITE/ID` among the suites, or a usage error listing what exists. */
export function findCell(suites: readonly SuiteSpec[], ref: string, command: string): CellSpec {
  const [suiteId, ...rest] = ref.split('/');
  const id = rest.join('/');
  const suite = suites.find((s) => s.id === suiteId);
  if (!suite || !id)
    throw new UsageError(
      command,
      `--cell ${ref}`,
      `names no cell; use SUITE/ID with a suite of: ${suites.map((s) => s.id).join(', ')}`,
    );
  const cell = suite.cells.find((c) => c.id === id);
  if (!cell)
    throw new UsageError(
      command,
      `--cell ${ref}`,
      `names no cell of ${suite.id}; \`returnpath run --suite ${suite.id} --list\` lists its cells`,
    );
  return cell;
}

/**
 * The cell `lab up --cell` brings up: from the built-in suites or a suite file, with the VPC CNI
 * implementation the run used (`--cni real`, `--cni-bin DIR`), as its reproduce line repeats them.
 */
export async function cellToBringUp(
  ref: string,
  opts: { file?: string; cni?: string; cniBin?: string },
): Promise<{ cell: CellSpec; source: CellSource }> {
  const suites = await loadSuites(opts.file);
  const found = findCell(suites, ref, 'lab up');
  const choice = await cniChoice(opts.cni, opts.cniBin, 'lab up');
  const [cell] = (await applyCniChoice([found], choice)).cells;
  const source: CellSource = opts.file ? { kind: 'file', path: opts.file } : { kind: 'builtin' };
  return { cell: cell!, source };
}

/** What `lab up --cell` prints once the cell's lab is up and settled. */
export function printCellLab(
  cl: CellLab,
  cell: CellSpec,
  source: CellSource,
  how: { ms: number; commands: number },
): void {
  const { lab, flow } = cl;
  console.log(
    `run ${lab.runId}: ${cell.suite}/${cell.id} up in ${how.ms} ms ` +
      `(${how.commands} commands): ${flow.servers.length} server(s), ${cl.settled.length} NLB(s)`,
  );
  for (const h of lab.hosts) console.log(`  ${h.id.padEnd(28)} ${(h.address ?? '').padEnd(16)} ${h.netns}`);
  for (const s of cl.settled)
    console.log(
      s.result.reached
        ? `  ${s.nlb}: every NLB node reports the health the topology implies`
        : `  ${s.nlb}: NLB health differs from the topology's: ${s.result.mismatches.join('; ')}`,
    );
  console.log(`flow: ${flow.label}`);
  console.log(
    `expected: ${cell.expect.outcome ? JSON.stringify(cell.expect.outcome) : 'see the chaos bounds'}`,
  );
  console.log(`probe: ${probeLine(cell, flow, lab.runId)}`);
  console.log(`then:  returnpath lab dump ${lab.runId} | returnpath lab down ${lab.runId}`);
  if (source.kind === 'file') console.log(`(cell from ${source.path})`);
}

/** probe-cli's options, declared for `lab probe` (passed through to probe-cli as given). */
export const PROBE_OPTIONS: readonly OptionDecl[] = [
  { name: 'deadline', value: 'MS', help: 'connect deadline per attempt' },
  { name: 'answer', value: 'MS', help: "how long to wait for the server's answer once connected" },
  { name: 'attempts', value: 'N', help: 'attempts per address' },
  { name: 'concurrency', value: 'N', help: 'attempts in flight at once' },
  { name: 'local-address', value: 'IP', help: 'bind this source address' },
  { name: 'local-port', value: 'P', help: 'bind this source port' },
  { name: 'local-ports', value: 'LO-HI', help: 'bind source ports from this range, one per attempt' },
  { name: 'hold', value: 'MS', help: 'hold each connection open this long' },
  { name: 'close', value: 'HOW', choices: ['fin', 'rst'], help: 'how a held connection is closed' },
  { name: 'json', help: 'print the whole batch as JSON' },
];

/**
 * `lab probe RUN HOST KIND ADDR[,ADDR...] PORT [probe-cli options]`: probe-cli inside HOST, once per
 * address, all at once (a cell that reaches several NLB node addresses does so concurrently).
 * Prints every attempt; exit 0 when every attempt connected, 1 otherwise, 2 on bad usage.
 */
export async function labProbe(a: Args): Promise<number> {
  const runId = a.positional('RUN')!;
  const host = a.positional('HOST')!;
  const kind = a.positional('KIND')!;
  const addresses = a.positional('ADDR')!;
  const port = a.positional('PORT')!;
  const options = PROBE_OPTIONS.flatMap((o) => {
    if (o.value === undefined) return a.flag(o.name) ? [`--${o.name}`] : [];
    const v = a.string(o.name);
    return v === undefined ? [] : [`--${o.name}`, v];
  });
  const targets = addresses.split(',').filter(Boolean);
  if (targets.length === 0) throw new UsageError('lab probe', addresses, 'needs at least one address');
  for (const t of targets) {
    try {
      parseProbeArgs([kind, t, port, ...options]);
    } catch (e) {
      throw new UsageError('lab probe', [kind, t, port, ...options].join(' '), (e as Error).message);
    }
  }
  const handle = await LabHandle.attach(runId);
  const exec = handle.host(host);
  const codes = await Promise.all(
    targets.map(
      (t) =>
        new Promise<number>((resolve) => {
          const [file, ...args] = exec.wrap([process.execPath, PROBE_CLI, kind, t, port, ...options]);
          const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
          let buf = '';
          child.stdout.on('data', (d: Buffer) => {
            buf += d.toString();
            const lines = buf.split('\n');
            buf = lines.pop() ?? '';
            for (const l of lines)
              process.stdout.write(targets.length > 1 ? `${t}:${port} ${l}\n` : `${l}\n`);
          });
          child.on('error', (e) => {
            console.error(e.message);
            resolve(127);
          });
          child.on('close', (code) => {
            if (buf) process.stdout.write(`${buf}\n`);
            resolve(code ?? 1);
          });
        }),
    ),
  );
  return codes.find((c) => c !== 0) ?? 0;
}
