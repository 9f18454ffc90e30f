/** `returnpath lab up | exec | probe | dump | down | list | clean`. */
import { spawn } from 'node:child_process';
import { EnvironmentError, ValidationError } from '../errors.js';
import { labUnavailable } from '../lab/environment.js';
import { CommandRunner } from '../exec/command.js';
import { cleanLabs } from '../lab/clean.js';
import { DIST_DIR, Lab, LabHandle, newRunId } from '../lab/lab.js';
import { httpGet } from '../kube/http.js';
import type { ServeConfig } from '../kube/serve/controller.js';
import { TESTBED_TOPOLOGY } from '../cluster/lab-testbed.js';
import { serveSpec } from '../kube/serve/spec.js';
import { done, notYet, waitFor } from '../kube/wait.js';
import { RUN_ID } from '../lab/plan.js';
import { listRunStates, readRunState, RunIdInUse, runStatus } from '../lab/state.js';
import { loadTopology, type Topology } from '../model/topology.js';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ProxyMode } from '../kube-proxy/config.js';
import { ControlPlane } from '../kube/control-plane.js';
import { KubeEnvironment } from '../kube/environment.js';
import { controlPlaneProblems, KubernetesStage } from '../kube/stage.js';
import { cleanControlPlanes, destroyKubeState, readKubeState, stopRecorded } from '../kube/state.js';
import { nlbContributor } from '../nlb/plan.js';
import { labContributors, labStages } from '../lab/contributors.js';
import { dumpLab } from './lab-dump.js';
import { UsageError, type Args, type CommandGroup } from './command.js';
import { cellPlan, cellLabUp, type CellLab } from '../scenario/cell-lab.js';
import type { CellSpec } from '../scenario/cell.js';
import type { CellSource } from '../scenario/reproduce.js';
import { cellToBringUp, labProbe, printCellLab, PROBE_OPTIONS } from './lab-cell.js';

const RUN = { name: 'RUN', help: 'a lab run id: 6 hex digits, as `lab up` and `lab list` print it' };

export const labGroup: CommandGroup = {
  name: 'lab',
  summary: 'build a topology in network namespaces and work with it (as root)',
  commands: [
    {
      name: 'lab up',
      summary:
        'build the topology in network namespaces and leave it up; prints the run id. With --cell: ' +
        "a cell's lab with its servers, NLB agents and health checks running until lab down (what a " +
        "cell's reproduce lines start with)",
      positionals: [
        { name: 'FILE', help: 'a topology spec, YAML or JSON (not with --cell)', optional: true },
      ],
      options: [
        { name: 'run-id', value: 'ID', help: 'the run id (6 hex digits; default: a random one)' },
        {
          name: 'cell',
          value: 'SUITE/ID',
          help: 'bring up this cell of a built-in suite (or of --file) instead of a topology file',
        },
        { name: 'file', value: 'SUITE.yaml', help: 'with --cell: the suite file the cell comes from' },
        {
          name: 'cni',
          value: 'IMPL',
          choices: ['emulated', 'real'],
          help: "with --cell: the VPC CNI's implementation, as the cell ran (run --cni)",
        },
        {
          name: 'cni-bin',
          value: 'DIR',
          help: 'with --cell: your own VPC CNI build, as the cell ran (run --cni-bin); implies --cni real',
        },
        {
          name: 'kubernetes',
          help: 'on a real control plane with the real kube-proxy in every node; prints a kubeconfig',
        },
        {
          name: 'serve',
          help:
            'with --kubernetes: register only the Nodes, and leave a controller running that plays the ' +
            "lab's kubelet (Pods created through the API run in the nodes' pod slots; exec works) until lab down",
        },
        {
          name: 'kube-proxy-mode',
          value: 'MODE',
          choices: ['iptables', 'nftables'],
          help: "with --kubernetes: the real kube-proxy's mode (default: iptables, as EKS)",
        },
      ],
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
      name: 'lab probe',
      summary: "probe from inside a host of a lab, as a cell does (a cell's probe reproduce line)",
      positionals: [
        RUN,
        { name: 'HOST', help: 'the client host, as `lab up` lists them' },
        { name: 'KIND', help: 'tcp, http or udp' },
        { name: 'ADDR', help: 'the address to probe; several, comma-separated, are probed at once' },
        { name: 'PORT', help: 'the destination port' },
      ],
      options: PROBE_OPTIONS,
      details: 'Exit 0 when every attempt connected, 1 otherwise.',
      run: labProbe,
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
      summary:
        'remove a lab and its control plane (refused while the process that owns or builds it runs, unless --force)',
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
  const file = a.positional('FILE');
  const cellRef = a.string('cell');
  const suiteFile = a.string('file');
  const cni = a.string('cni');
  const cniBin = a.string('cni-bin');
  if (cellRef !== undefined && file !== undefined)
    throw new UsageError('lab up', file, 'takes no FILE with --cell (the cell names its topology)');
  if (cellRef === undefined) {
    for (const [flag, v] of [
      ['--file', suiteFile],
      ['--cni', cni],
      ['--cni-bin', cniBin],
    ] as const)
      if (v !== undefined)
        throw new UsageError('lab up', `${flag} ${v}`, 'applies to a cell: use it with --cell SUITE/ID');
    if (file === undefined)
      throw new UsageError('lab up', '(missing)', 'needs a topology FILE (YAML or JSON), or --cell SUITE/ID');
  }
  const runId = a.string('run-id');
  if (runId !== undefined && !RUN_ID.test(runId))
    throw new UsageError('lab up', `--run-id ${runId}`, 'must be 6 hex digits');
  const kubernetes = a.flag('kubernetes');
  const mode = a.string('kube-proxy-mode') as ProxyMode | undefined;
  if (mode !== undefined && !kubernetes)
    throw new UsageError(
      'lab up',
      `--kube-proxy-mode ${mode}`,
      'applies to the real kube-proxy: add --kubernetes',
    );
  const serve = a.flag('serve');
  if (serve && !kubernetes)
    throw new UsageError(
      'lab up',
      '--serve',
      'serves Pods and Services through a real control plane: add --kubernetes',
    );
  if (serve && cellRef !== undefined)
    throw new UsageError('lab up', '--serve', "applies to a topology FILE, not to a cell's lab (--cell)");
  const cell =
    cellRef !== undefined
      ? await cellToBringUp(cellRef, {
          ...(suiteFile !== undefined && { file: suiteFile }),
          ...(cni !== undefined && { cni }),
          ...(cniBin !== undefined && { cniBin }),
        })
      : undefined;
  const topology = cell ? cellPlan(cell.cell).topology : await loadTopology(file!);
  requireLabHere();
  const t0 = performance.now();
  const runner = new CommandRunner();
  const id = runId ?? newRunId();
  // A running lab of that id keeps everything, its control plane included: refuse before starting one.
  if (runId !== undefined) {
    if (await readKubeState(runId)) throw new RunIdInUse(runId, 'a control plane of that lab runs');
    if (
      await readRunState(runId).then(
        () => true,
        () => false,
      )
    )
      throw new RunIdInUse(runId, `lab ${runId} exists (see returnpath lab list)`);
  }
  // Ctrl-C while building: finish (or fail and tear down), then remove the lab; nothing is left.
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    console.error('interrupted: removing the lab once it is built');
  };
  // Installed until lab up returns: a Ctrl-C that lands just after the build still removes the lab.
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    return await buildLab({
      id,
      topology,
      runner,
      t0,
      kubernetes,
      serve,
      mode,
      interrupted: () => interrupted,
      ...(cell && { cell }),
      ...(file !== undefined && !cell && { file }),
    });
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

interface LabBuild {
  id: string;
  topology: Topology;
  runner: CommandRunner;
  /** When the command started (performance.now()), for the "up in N ms" line. */
  t0: number;
  kubernetes: boolean;
  /** Serve mode: Nodes only, and the controller (lab kubelet) left running. */
  serve: boolean;
  mode: ProxyMode | undefined;
  /** Whether a Ctrl-C (or SIGTERM) came while building. */
  interrupted: () => boolean;
  /** `lab up --cell`: the cell whose lab (servers, NLB agents settled) is brought up. */
  cell?: { cell: CellSpec; source: CellSource };
  /** The topology file (serve mode keeps a copy for its controller and for `run --kubeconfig`). */
  file?: string;
}

/** Builds the lab of `lab up`; removes it again and returns 130 when interrupted meanwhile. */
async function buildLab({
  id,
  topology,
  runner,
  t0,
  kubernetes,
  serve,
  mode,
  interrupted,
  cell,
  file,
}: LabBuild): Promise<number> {
  let kube: { controlPlane: ControlPlane; stage: KubernetesStage } | undefined;
  let lab: Lab;
  let cl: CellLab | undefined;
  try {
    kube = kubernetes ? await upKubernetes(id, topology, mode ?? 'iptables', serve) : undefined;
    if (cell) {
      // The cell's servers (as processes of their own), its NLB agents settled on the health the
      // topology implies: its reproduce lines work until lab down.
      cl = await cellLabUp(cell.cell, {
        runner,
        runId: id,
        persistent: true,
        ...(kube && { kubeStage: kube.stage }),
      });
      lab = cl.lab;
    } else
      lab = await Lab.up(topology, {
        runId: id,
        persistent: true,
        runner,
        // Real kube-proxy writes the Services' rules (serve mode: the Services created through the API).
        contributors: kube && (serve || topology.services.length > 0) ? [nlbContributor] : labContributors(),
        // The real CNI (if any) before real Kubernetes.
        stages: [...labStages(topology), ...(kube ? [kube.stage] : [])],
      });
    if (kube && serve && !interrupted()) {
      try {
        await startServeController(kube.controlPlane, kube.stage, lab, topology, file!);
      } catch (e) {
        await lab.destroy();
        lab.release();
        throw e;
      }
    }
  } catch (e) {
    await kube?.controlPlane.stop();
    // Ctrl-C reaches the whole foreground group: a command the build ran may have died of it. The
    // failed build was torn down; the user asked for exactly that.
    if (interrupted()) return 130;
    throw e;
  }
  if (interrupted()) {
    await lab.destroy();
    lab.release();
    await kube?.controlPlane.stop();
    return 130;
  }
  const ms = Math.round(performance.now() - t0);
  if (cl && cell) printCellLab(cl, cell.cell, cell.source, { ms, commands: runner.commandsRun });
  else {
    console.log(`run ${lab.runId}: ${topology.name} up in ${ms} ms (${runner.commandsRun} commands)`);
    for (const h of lab.hosts) console.log(`  ${h.id.padEnd(28)} ${(h.address ?? '').padEnd(16)} ${h.netns}`);
  }
  if (kube) {
    const kubeconfig = join(kube.controlPlane.dir, 'kubeconfig');
    await writeFile(kubeconfig, await kube.controlPlane.slots[0]!.kubeconfig('admin'), { mode: 0o600 });
    console.log(
      `Kubernetes ${kube.controlPlane.version} at ${kube.controlPlane.slots[0]!.url}; real kube-proxy (${kube.stage.live?.mode} mode) in every node`,
    );
    if (serve) {
      const k = kube.controlPlane.kubeletEndpoint;
      console.log(
        `serve mode: Nodes only; the lab kubelet at https://${k.host}:${k.port} runs Pods bound to ${topology.nodes.map((n) => n.name).join(', ')} ` +
          `(image returnpath/agent, command returnpath-agent ...) in ${topology.pods.length} pod slots; log ${join(kube.controlPlane.dir, 'logs', 'lab-controller.log')}`,
      );
    }
    console.log(`kubeconfig: ${kubeconfig}`);
    console.log(`  KUBECONFIG=${kubeconfig} kubectl get nodes,pods,svc,endpointslices -A`);
    console.log(`  returnpath lab exec ${lab.runId} ${topology.nodes[0]?.name ?? 'NODE'} -- iptables-save`);
  }
  if (!cl)
    console.log(
      `next: returnpath lab exec ${lab.runId} HOST -- CMD | lab dump ${lab.runId} | lab down ${lab.runId}`,
    );
  // The lab stays up; its processes run on without this command.
  lab.release();
  return 0;
}

/**
 * Serve mode's controller (lib/kube/serve/controller.ts), recorded with the control plane (stopped
 * by lab down and lab clean), ready once its kubelet answers /healthz with every role started.
 */
async function startServeController(
  cp: ControlPlane,
  stage: KubernetesStage,
  lab: Lab,
  topology: Topology,
  file: string,
): Promise<void> {
  const kubeconfig = join(cp.dir, 'kubeconfig');
  // The topology as written (the cloud provider's pool; what `run --kubeconfig` reads as the
  // cluster's description, lib/cluster/lab-testbed.ts).
  const topologyFile = join(cp.dir, TESTBED_TOPOLOGY);
  await writeFile(topologyFile, await readFile(file, 'utf8'), { mode: 0o600 });
  await writeFile(kubeconfig, await cp.slots[0]!.kubeconfig('admin'), { mode: 0o600 });
  const k = cp.kubeletEndpoint;
  const config: ServeConfig = {
    spec: serveSpec(lab.runId, topology),
    kubeconfig,
    kubelet: { ...k, cert: cp.pki.kubeletCert, key: cp.pki.kubeletKey, ca: cp.pki.caCert },
    agentEntry: join(DIST_DIR, '..', 'bin', 'returnpath-agent.js'),
    topology: { file: topologyFile, baseDir: dirname(resolve(file)) },
    kubeProxies: (stage.live?.kubeProxies ?? []).map((kp) => ({
      node: kp.nodeName,
      argv: [...kp.process.argv],
      logFile: kp.process.logFile,
      ...kp.process.identity(),
    })),
    dir: join(cp.dir, 'serve'),
  };
  const configFile = join(cp.dir, 'serve.json');
  await writeFile(configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
  const controller = await cp.startComponent('lab-controller', [
    process.execPath,
    join(DIST_DIR, 'lib/kube/serve/controller.js'),
    configFile,
  ]);
  const tls = {
    ca: await readFile(cp.pki.caCert),
    cert: await readFile(cp.pki.client.admin.cert),
    key: await readFile(cp.pki.client.admin.key),
  };
  await waitFor(
    async () => {
      const r = await httpGet(`https://${k.host}:${k.port}/healthz`, tls).catch((e: Error) => ({
        status: 0,
        body: e.message,
      }));
      return r.status === 200 ? done(true) : notYet(`${r.status} ${r.body}`);
    },
    {
      what: `the lab controller (kubelet at https://${k.host}:${k.port})`,
      components: [controller],
      timeoutMs: 60_000,
      maxIntervalMs: 100,
    },
  );
}

/** A control plane left up with the lab (`lab up --kubernetes`): detached, recorded under the run id. */
async function upKubernetes(
  runId: string,
  topology: Topology,
  mode: ProxyMode,
  serve = false,
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
    serve,
    log: (l) => console.log(l),
  });
  return { controlPlane, stage };
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
  const runId = runIdArg(a);
  requireLabHere();
  const kube = await readKubeState(runId);
  const handle = await LabHandle.attach(runId).catch((e: unknown) => {
    if (kube) return undefined;
    throw e;
  });
  if (handle) {
    const status = runStatus(handle.state);
    if (status.kind === 'in-use' && !a.flag('force')) throw new LabInUse(handle.runId, status.why);
  }
  // Serve mode's controller first (it stops the Pods' processes), then kube-proxies go with the
  // namespaces, then the control plane (controller-manager, apiserver, etcd).
  if (kube) await stopRecorded(kube.components.filter((c) => c.name === 'lab-controller'));
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
  const k = await cleanControlPlanes({ all: a.flag('all') });
  console.log(
    `removed ${r.removedRuns.length} run(s), ${r.removedNamespaces.length} namespace(s), ${k.removed.length} control plane(s)`,
  );
  for (const x of r.keptRuns) console.log(`kept ${x.runId}: ${x.why}`);
  for (const x of k.kept) console.log(`kept control plane ${x.id}: ${x.why}`);
  return 0;
}
