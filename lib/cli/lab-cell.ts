/**
 * `returnpath lab up --cell SUITE/ID [--file SUITE.yaml] [--run-id ID]`: a cell's lab, left up with
 * its servers, NLB agents and health checks running until `lab down`, so the cell's reproduce lines
 * work as printed; and `returnpath lab probe RUN HOST KIND ADDR[,ADDR] PORT [options]`: the cell's
 * probe from inside a host of a lab (the probe-cli of this installation, run in that namespace).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CommandRunner } from '../exec/command.js';
import { LabHandle } from '../lab/lab.js';
import { RUN_ID } from '../lab/plan.js';
import { cellLabUp } from '../scenario/cell-lab.js';
import type { CellSpec, SuiteSpec } from '../scenario/cell.js';
import { probeLine, type CellSource } from '../scenario/reproduce.js';
import { parseProbeArgs } from '../traffic/probe-cli.js';
import { usage } from './args.js';
import { loadSuites } from './suite-source.js';

const PROBE_CLI = fileURLToPath(new URL('../traffic/probe-cli.js', import.meta.url));

/** The cell `SUITE/ID` among the suites, or a usage error listing what exists. */
export function findCell(suites: readonly SuiteSpec[], ref: string, command: string): CellSpec {
  const [suiteId, ...rest] = ref.split('/');
  const id = rest.join('/');
  const suite = suites.find((s) => s.id === suiteId);
  if (!suite || !id)
    throw usage(
      command,
      ref,
      `names no cell; use SUITE/ID with a suite of: ${suites.map((s) => s.id).join(', ')}`,
    );
  const cell = suite.cells.find((c) => c.id === id);
  if (!cell)
    throw usage(
      command,
      ref,
      `names no cell of ${suite.id}; \`returnpath run --suite ${suite.id} --list\` lists its cells`,
    );
  return cell;
}

export async function labUpCell(ref: string, opts: { file?: string; runId?: string }): Promise<number> {
  if (opts.runId !== undefined && !RUN_ID.test(opts.runId))
    throw usage('lab up', opts.runId, '--run-id must be 6 hex digits');
  const suites = await loadSuites(opts.file);
  const cell = findCell(suites, ref, 'lab up');
  const source: CellSource = opts.file ? { kind: 'file', path: opts.file } : { kind: 'builtin' };
  const t0 = performance.now();
  const runner = new CommandRunner();
  const cl = await cellLabUp(cell, { runner, persistent: true, ...(opts.runId && { runId: opts.runId }) });
  const { lab, flow } = cl;
  try {
    console.log(
      `run ${lab.runId}: ${cell.suite}/${cell.id} up in ${Math.round(performance.now() - t0)} ms ` +
        `(${runner.commandsRun} commands): ${flow.servers.length} server(s), ${cl.settled.length} NLB(s)`,
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
    return 0;
  } finally {
    // The lab stays up; its processes run on without this command.
    lab.release();
  }
}

/**
 * `lab probe RUN HOST KIND ADDR[,ADDR...] PORT [probe-cli options]`: probe-cli inside HOST, once per
 * address, all at once (a cell that reaches several NLB node addresses does so concurrently).
 * Prints every attempt; exit 0 when every attempt connected, 1 otherwise, 2 on bad usage.
 */
export async function labProbe(argv: readonly string[]): Promise<number> {
  const [runId, host, kind, addresses, port, ...options] = argv;
  if (!runId || !RUN_ID.test(runId) || !host || !kind || !addresses || !port)
    throw usage(
      'lab probe',
      argv.join(' ') || '(none)',
      'usage: lab probe RUN HOST tcp|http|udp ADDR[,ADDR...] PORT [--deadline MS] [--attempts N] ' +
        '[--concurrency N] [--local-port P | --local-ports LO-HI] [--hold MS] [--close fin|rst] [--json]',
    );
  const targets = addresses.split(',').filter(Boolean);
  for (const a of targets) {
    try {
      parseProbeArgs([kind, a, port, ...options]);
    } catch (e) {
      throw usage('lab probe', [kind, a, port, ...options].join(' '), (e as Error).message);
    }
  }
  const handle = await LabHandle.attach(runId);
  const exec = handle.host(host);
  const codes = await Promise.all(
    targets.map(
      (a) =>
        new Promise<number>((resolve) => {
          const [file, ...args] = exec.wrap([process.execPath, PROBE_CLI, kind, a, port, ...options]);
          const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
          let buf = '';
          child.stdout.on('data', (d: Buffer) => {
            buf += d.toString();
            const lines = buf.split('\n');
            buf = lines.pop() ?? '';
            for (const l of lines)
              process.stdout.write(targets.length > 1 ? `${a}:${port} ${l}\n` : `${l}\n`);
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
