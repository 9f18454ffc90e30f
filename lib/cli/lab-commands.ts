/** `returnpath lab up | exec | dump | down | list | clean`. */
import { spawn } from 'node:child_process';
import { CommandRunner } from '../exec/command.js';
import { cleanLabs } from '../lab/clean.js';
import { Lab, LabHandle, newRunId } from '../lab/lab.js';
import { RUN_ID } from '../lab/plan.js';
import { listRunStates, processAlive } from '../lab/state.js';
import { loadTopology, type Topology } from '../model/topology.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError } from '../errors.js';
import type { ProxyMode } from '../kube-proxy/config.js';
import { ControlPlane } from '../kube/control-plane.js';
import { KubeEnvironment } from '../kube/environment.js';
import { controlPlaneProblems, KubernetesStage } from '../kube/stage.js';
import { cleanControlPlanes, destroyKubeState, readKubeState } from '../kube/state.js';
import { nlbContributor } from '../nlb/plan.js';
import { labContributors } from '../lab/contributors.js';
import { dumpLab } from './lab-dump.js';
import { parseArgs, usage, type ParsedArgs } from './args.js';

export async function labCommand(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'up':
      return labUp(
        parseArgs(rest, { values: ['run-id', 'kube-proxy-mode'], booleans: ['kubernetes'] }, 'lab up'),
      );
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
  const mode = a.flags.get('kube-proxy-mode');
  const kubernetes = a.flags.has('kubernetes');
  if (mode !== undefined && mode !== 'iptables' && mode !== 'nftables')
    throw usage(
      'lab up',
      String(mode),
      '--kube-proxy-mode must be iptables (the default, as EKS) or nftables',
    );
  if (mode !== undefined && !kubernetes)
    throw usage(
      'lab up',
      `--kube-proxy-mode ${String(mode)}`,
      'applies to the real kube-proxy: add --kubernetes',
    );
  const topology = await loadTopology(file);
  const t0 = performance.now();
  const runner = new CommandRunner();
  const id = (runId as string | undefined) ?? newRunId();
  const kube = kubernetes
    ? await upKubernetes(id, topology, (mode as ProxyMode | undefined) ?? 'iptables')
    : undefined;
  let lab: Lab;
  try {
    lab = await Lab.up(topology, {
      runId: id,
      persistent: true,
      runner,
      contributors: kube && topology.services.length > 0 ? [nlbContributor] : labContributors(),
      ...(kube && { stages: [kube.stage] }),
    });
  } catch (e) {
    await kube?.controlPlane.stop();
    throw e;
  }
  const ms = Math.round(performance.now() - t0);
  console.log(`run ${lab.runId}: ${topology.name} up in ${ms} ms (${runner.commandsRun} commands)`);
  for (const h of lab.hosts) console.log(`  ${h.id.padEnd(28)} ${(h.address ?? '').padEnd(16)} ${h.netns}`);
  if (kube) {
    const kubeconfig = join(kube.controlPlane.dir, 'kubeconfig');
    await writeFile(kubeconfig, await kube.controlPlane.slots[0]!.kubeconfig('admin'), { mode: 0o600 });
    console.log(
      `Kubernetes ${kube.controlPlane.version} at ${kube.controlPlane.slots[0]!.url}; real kube-proxy (${kube.stage.live?.mode} mode) in every node`,
    );
    console.log(`kubeconfig: ${kubeconfig}`);
    console.log(`  KUBECONFIG=${kubeconfig} kubectl get nodes,pods,svc,endpointslices -A`);
    console.log(`  returnpath lab exec ${lab.runId} ${topology.nodes[0]?.name ?? 'NODE'} -- iptables-save`);
  }
  console.log(
    `next: returnpath lab exec ${lab.runId} HOST -- CMD | lab dump ${lab.runId} | lab down ${lab.runId}`,
  );
  return 0;
}

/** A control plane left up with the lab (`lab up --kubernetes`): detached, recorded under the run id. */
async function upKubernetes(
  runId: string,
  topology: Topology,
  mode: ProxyMode,
): Promise<{ controlPlane: ControlPlane; stage: KubernetesStage }> {
  const problems = controlPlaneProblems(topology);
  if (problems.length)
    throw new ValidationError(`topology ${topology.name} on a lab control plane`, problems);
  const env = new KubeEnvironment({ slots: 1, mode });
  const b = await env.binaries();
  const controlPlane = await ControlPlane.start({
    slots: 1,
    binaries: b,
    version: b.version,
    persistentId: runId,
    log: (l) => console.log(l),
  });
  const stage = new KubernetesStage({
    slot: controlPlane.slots[0]!,
    kubeProxyBinary: b.kubeProxy,
    version: b.version,
    mode,
    baseDir: join(controlPlane.dir, 'cells'),
    detached: true,
    log: (l) => console.log(l),
  });
  return { controlPlane, stage };
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
  const runId = runIdArg(a, 'lab down');
  const kube = await readKubeState(runId);
  const handle = await LabHandle.attach(runId).catch((e: unknown) => {
    if (kube) return undefined;
    throw e;
  });
  // kube-proxies go with the namespaces, then the control plane (controller-manager, apiserver, etcd).
  await handle?.destroy();
  if (kube) await destroyKubeState(kube);
  console.log(
    `run ${runId}: removed ${handle?.hosts.length ?? 0} namespaces${kube ? ` and its control plane (${kube.components.length} processes)` : ''}`,
  );
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
  const k = await cleanControlPlanes({ all: a.flags.has('all') });
  console.log(
    `removed ${r.removedRuns.length} run(s), ${r.removedNamespaces.length} namespace(s), ${k.removed.length} control plane(s)`,
  );
  for (const x of r.keptRuns) console.log(`kept ${x.runId}: ${x.why}`);
  for (const x of k.kept) console.log(`kept control plane ${x.id}: ${x.why}`);
  return 0;
}
