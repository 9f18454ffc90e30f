/** `returnpath lab up | exec | dump | down | list | clean`. */
import { spawn } from 'node:child_process';
import { CommandRunner } from '../exec/command.js';
import { cleanLabs } from '../lab/clean.js';
import { Lab, LabHandle } from '../lab/lab.js';
import { RUN_ID } from '../lab/plan.js';
import { listRunStates, processAlive } from '../lab/state.js';
import { loadTopology } from '../model/topology.js';
import { labContributors, labStages } from '../lab/contributors.js';
import { dumpLab } from './lab-dump.js';
import { parseArgs, usage, type ParsedArgs } from './args.js';

export async function labCommand(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'up':
      return labUp(parseArgs(rest, { values: ['run-id'] }, 'lab up'));
    case 'exec':
      return labExec(parseArgs(rest, {}, 'lab exec'));
    case 'dump':
      return labDump(parseArgs(rest, {}, 'lab dump'));
    case 'down':
      return labDown(parseArgs(rest, {}, 'lab down'));
    case 'list':
      return labList();
    case 'clean':
      return labClean(parseArgs(rest, { booleans: ['all'] }, 'lab clean'));
    default:
      throw usage('lab', sub ?? '(none)', 'expected one of: up, exec, dump, down, list, clean');
  }
}

function runIdArg(a: ParsedArgs, command: string): string {
  const id = a.positionals[0];
  if (!id || !RUN_ID.test(id))
    throw usage(command, id ?? '(missing)', 'needs a run id: 6 hex digits, as printed by lab up');
  return id;
}

async function labUp(a: ParsedArgs): Promise<number> {
  const file = a.positionals[0];
  if (!file) throw usage('lab up', '(missing)', 'needs a topology file (YAML or JSON)');
  const runId = a.flags.get('run-id');
  if (runId !== undefined && (typeof runId !== 'string' || !RUN_ID.test(runId)))
    throw usage('lab up', String(runId), '--run-id must be 6 hex digits');
  const topology = await loadTopology(file);
  const t0 = performance.now();
  const runner = new CommandRunner();
  const lab = await Lab.up(topology, {
    runId: runId as string | undefined,
    persistent: true,
    runner,
    contributors: labContributors(),
    stages: labStages(topology),
    log: (l) => console.log(`  ${l}`),
  });
  const ms = Math.round(performance.now() - t0);
  console.log(`run ${lab.runId}: ${topology.name} up in ${ms} ms (${runner.commandsRun} commands)`);
  for (const h of lab.hosts) console.log(`  ${h.id.padEnd(28)} ${(h.address ?? '').padEnd(16)} ${h.netns}`);
  console.log(
    `next: returnpath lab exec ${lab.runId} HOST -- CMD | lab dump ${lab.runId} | lab down ${lab.runId}`,
  );
  return 0;
}

async function labExec(a: ParsedArgs): Promise<number> {
  const runId = runIdArg(a, 'lab exec');
  const hostRef = a.positionals[1];
  if (!hostRef || a.rest.length === 0)
    throw usage('lab exec', a.positionals.join(' '), 'usage: lab exec RUN HOST -- CMD...');
  const handle = await LabHandle.attach(runId);
  const [file, ...args] = handle.host(hostRef).wrap(a.rest);
  return new Promise((resolve) => {
    const child = spawn(file!, args, { stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    child.on('error', (e) => {
      console.error(e.message);
      resolve(127);
    });
  });
}

async function labDump(a: ParsedArgs): Promise<number> {
  const handle = await LabHandle.attach(runIdArg(a, 'lab dump'));
  process.stdout.write(await dumpLab(handle, a.positionals[1]));
  return 0;
}

async function labDown(a: ParsedArgs): Promise<number> {
  const handle = await LabHandle.attach(runIdArg(a, 'lab down'));
  await handle.destroy();
  console.log(`run ${handle.runId}: removed ${handle.hosts.length} namespaces`);
  return 0;
}

async function labList(): Promise<number> {
  const states = await listRunStates();
  if (states.length === 0) console.log('no lab runs');
  for (const s of states) {
    const owner = s.pid === 0 ? 'left up' : processAlive(s.pid) ? `owned by pid ${s.pid}` : 'interrupted';
    console.log(
      `${s.runId}  ${s.topology.padEnd(28)} ${String(s.hosts.length).padStart(4)} hosts  ${s.startedAt}  ${owner}`,
    );
  }
  return 0;
}

async function labClean(a: ParsedArgs): Promise<number> {
  const r = await cleanLabs(new CommandRunner(), { all: a.flags.has('all') });
  console.log(`removed ${r.removedRuns.length} run(s), ${r.removedNamespaces.length} namespace(s)`);
  for (const k of r.keptRuns) console.log(`kept ${k.runId}: ${k.why}`);
  return 0;
}
