/** `returnpath lab up | exec | dump | down | list | clean`. */
import { spawn } from 'node:child_process';
import { EnvironmentError, ValidationError } from '../errors.js';
import { labUnavailable } from '../lab/environment.js';
import { CommandRunner } from '../exec/command.js';
import { cleanLabs } from '../lab/clean.js';
import { Lab, LabHandle } from '../lab/lab.js';
import { RUN_ID } from '../lab/plan.js';
import { listRunStates, runStatus } from '../lab/state.js';
import { loadTopology } from '../model/topology.js';
import { labContributors, labStages } from '../lab/contributors.js';
import { dumpLab } from './lab-dump.js';
import { UsageError, type Args, type CommandGroup } from './command.js';

const RUN = { name: 'RUN', help: 'a lab run id: 6 hex digits, as `lab up` and `lab list` print it' };

export const labGroup: CommandGroup = {
  name: 'lab',
  summary: 'build a topology in network namespaces and work with it (as root)',
  commands: [
    {
      name: 'lab up',
      summary: 'build the topology in network namespaces and leave it up; prints the run id',
      positionals: [{ name: 'FILE', help: 'a topology spec, YAML or JSON' }],
      options: [{ name: 'run-id', value: 'ID', help: 'the run id (6 hex digits; default: a random one)' }],
      run: labUp,
    },
    {
      name: 'lab exec',
      summary: 'run a command inside a host (node-a, pod/web-1, fabric, nlb/NAME/ZONE, ...)',
      positionals: [RUN, { name: 'HOST', help: 'a host of the lab, as `lab up` lists them' }],
      rest: { name: 'CMD...', help: 'the command and its arguments' },
      run: labExec,
    },
    {
      name: 'lab dump',
      summary:
        'addresses, links, rules, routes of every table, neighbours, iptables-save, conntrack, sysctls',
      positionals: [RUN, { name: 'HOST', help: 'one host only (default: every host)', optional: true }],
      run: labDump,
    },
    {
      name: 'lab down',
      summary: 'remove a lab (refused while the process that owns or builds it runs, unless --force)',
      positionals: [RUN],
      options: [{ name: 'force', help: 'remove it even while its owner runs (that run then fails)' }],
      run: labDown,
    },
    { name: 'lab list', summary: 'list lab runs on this machine', run: labList },
    {
      name: 'lab clean',
      summary: 'sweep what interrupted runs left (--all: also labs left up by `lab up`)',
      options: [{ name: 'all', help: 'also remove labs left up on purpose by `lab up`' }],
      run: labClean,
    },
  ],
};

/** `lab down` of a lab whose owner still runs: refused (exit 2) unless --force. */
class LabInUse extends ValidationError {
  constructor(runId: string, why: string) {
    super(`lab ${runId}`, [{ path: 'RUN', value: runId, message: `is in use: ${why}` }]);
    this.message =
      `lab ${runId} is in use: ${why}; its owner removes it when it ends ` +
      `(\`returnpath lab down ${runId} --force\` removes it now, and that run fails)`;
  }
}

/** The lab commands that touch namespaces need root and the tools (exit 3 otherwise). */
function requireLabHere(): void {
  const why = labUnavailable();
  if (why) throw new EnvironmentError(`the lab cannot run here: ${why}`);
}

function runIdArg(a: Args): string {
  const id = a.positional('RUN')!;
  if (!RUN_ID.test(id))
    throw new UsageError(a.decl.name, id, 'is not a run id: 6 hex digits, as printed by lab up');
  return id;
}

async function labUp(a: Args): Promise<number> {
  const file = a.positional('FILE')!;
  const runId = a.string('run-id');
  if (runId !== undefined && !RUN_ID.test(runId))
    throw new UsageError('lab up', `--run-id ${runId}`, 'must be 6 hex digits');
  const topology = await loadTopology(file);
  requireLabHere();
  const t0 = performance.now();
  const runner = new CommandRunner();
  // Ctrl-C while building: finish (or fail and tear down), then remove the lab; nothing is left.
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    console.error('interrupted: removing the lab once it is built');
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const lab = await Lab.up(topology, {
    runId: runId as string | undefined,
    persistent: true,
    runner,
    contributors: labContributors(),
    stages: labStages(topology),
  }).finally(() => process.off('SIGINT', onSignal).off('SIGTERM', onSignal));
  if (interrupted) {
    await lab.destroy();
    return 130;
  }
  const ms = Math.round(performance.now() - t0);
  console.log(`run ${lab.runId}: ${topology.name} up in ${ms} ms (${runner.commandsRun} commands)`);
  for (const h of lab.hosts) console.log(`  ${h.id.padEnd(28)} ${(h.address ?? '').padEnd(16)} ${h.netns}`);
  console.log(
    `next: returnpath lab exec ${lab.runId} HOST -- CMD | lab dump ${lab.runId} | lab down ${lab.runId}`,
  );
  return 0;
}

async function labExec(a: Args): Promise<number> {
  const runId = runIdArg(a);
  requireLabHere();
  const hostRef = a.positional('HOST')!;
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

async function labDump(a: Args): Promise<number> {
  const handle = await LabHandle.attach(runIdArg(a));
  requireLabHere();
  process.stdout.write(await dumpLab(handle, a.positional('HOST')));
  return 0;
}

async function labDown(a: Args): Promise<number> {
  const handle = await LabHandle.attach(runIdArg(a));
  requireLabHere();
  const status = runStatus(handle.state);
  if (status.kind === 'in-use' && !a.flag('force')) throw new LabInUse(handle.runId, status.why);
  await handle.destroy();
  console.log(`run ${handle.runId}: removed ${handle.hosts.length} namespaces`);
  return 0;
}

async function labList(): Promise<number> {
  const states = await listRunStates();
  if (states.length === 0) console.log('no lab runs');
  for (const s of states) {
    const status = runStatus(s);
    const owner =
      status.kind === 'in-use' || status.kind === 'left-up' ? status.why : `${status.kind}: ${status.why}`;
    console.log(
      `${s.runId}  ${s.topology.padEnd(28)} ${String(s.hosts.length).padStart(4)} hosts  ${s.startedAt}  ${owner}`,
    );
  }
  return 0;
}

async function labClean(a: Args): Promise<number> {
  requireLabHere();
  const r = await cleanLabs(new CommandRunner(), { all: a.flag('all') });
  console.log(`removed ${r.removedRuns.length} run(s), ${r.removedNamespaces.length} namespace(s)`);
  for (const k of r.keptRuns) console.log(`kept ${k.runId}: ${k.why}`);
  return 0;
}
