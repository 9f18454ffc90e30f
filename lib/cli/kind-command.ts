/** `returnpath kind up | down | list | clean | exec | kubeconfig`: kind clusters made by returnpath. */
import { spawn } from 'node:child_process';
import { KindCluster, deleteCluster, listClusters } from '../kind/cluster.js';
import { cleanClusters } from '../kind/clean.js';
import { UsageError, type Args, type CommandGroup } from './command.js';

const NAME = { name: 'NAME', help: 'a cluster returnpath made (`kind list`)' };

export const kindGroup: CommandGroup = {
  name: 'kind',
  summary: "kind clusters on returnpath's own engine and node image (or your Docker)",
  commands: [
    {
      name: 'kind up',
      summary: "create a kind cluster (kept until 'kind down') and print its kubeconfig",
      options: [
        { name: 'name', value: 'NAME', help: 'the cluster name (default: rp-RUN-ID)' },
        {
          name: 'config',
          value: 'FILE',
          help: 'the kind cluster config (default: kind-config/cluster.yaml)',
        },
        { name: 'workers', value: 'N', help: 'worker nodes, 0 to 9 (default: as the config)' },
        {
          name: 'proxy-mode',
          value: 'MODE',
          choices: ['iptables', 'nftables'],
          help: "kube-proxy's mode (default: iptables, as EKS)",
        },
        {
          name: 'docker',
          help: "use your Docker and kind's default node image instead of returnpath's engine",
        },
        { name: 'image', value: 'IMAGE', help: 'with --docker: the node image' },
      ],
      details:
        "By default the cluster runs on returnpath's own engine and node image (root; 'returnpath components build').",
      run: up,
    },
    {
      name: 'kind down',
      summary: 'delete a cluster returnpath made, and everything it left on the host',
      positionals: [NAME],
      run: down,
    },
    { name: 'kind list', summary: 'clusters returnpath made on this machine', run: list },
    {
      name: 'kind clean',
      summary:
        'remove clusters of interrupted runs, with the lab an interrupted run --kind joined them to (--all: also kept ones)',
      options: [{ name: 'all', help: 'also remove clusters kept on purpose' }],
      run: clean,
    },
    {
      name: 'kind exec',
      summary: 'run a command in a node container',
      positionals: [NAME, { name: 'NODE', help: 'a node container, as `kind up` lists them' }],
      rest: { name: 'CMD...', help: 'the command and its arguments' },
      run: exec,
    },
    {
      name: 'kind kubeconfig',
      summary: "print the path of a cluster's kubeconfig",
      positionals: [NAME],
      run: kubeconfig,
    },
  ],
};

async function up(a: Args): Promise<number> {
  const mode = a.string('proxy-mode') as 'iptables' | 'nftables' | undefined;
  const image = a.string('image');
  if (image && !a.flag('docker'))
    throw new UsageError(
      'kind up',
      `--image ${image}`,
      "only with --docker (returnpath's engine uses its own node image)",
    );
  const abort = new AbortController();
  const onSignal = (): void => {
    if (!abort.signal.aborted) console.error('kind up: interrupted; removing what was made');
    abort.abort();
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    const t0 = performance.now();
    const workers = a.int('workers', 0, 9);
    const name = a.string('name');
    const config = a.string('config');
    const c = await KindCluster.up({
      ...(name && { name }),
      ...(config && { config }),
      ...(workers !== undefined && { workers }),
      ...(mode && { kubeProxyMode: mode }),
      ...(image && { image }),
      engine: a.flag('docker') ? 'external' : 'private',
      keep: true,
      log: (l) => console.log(`  ${l}`),
      signal: abort.signal,
    });
    const nodes = await c.nodes();
    console.log(`cluster ${c.name} (run ${c.runId}) up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const n of nodes)
      console.log(`  ${n.name.padEnd(28)} ${n.role.padEnd(14)} ${n.address.padEnd(16)} pid ${n.pid}`);
    console.log(`kubeconfig: ${c.kubeconfig}`);
    console.log(
      `next: KUBECONFIG=${c.kubeconfig} kubectl get pods -A | returnpath kind exec ${c.name} NODE -- CMD | returnpath kind down ${c.name}`,
    );
    return 0;
  } catch (e) {
    if (abort.signal.aborted) return 130;
    throw e;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

async function down(a: Args): Promise<number> {
  const r = await deleteCluster(a.positional('NAME')!, { log: (l) => console.log(`  ${l}`) });
  console.log(`cluster ${r.name} removed`);
  return 0;
}

async function list(): Promise<number> {
  const all = await listClusters();
  if (all.length === 0) console.log('no kind clusters made by returnpath');
  for (const c of all)
    console.log(
      `${c.name.padEnd(20)} run ${c.runId}  ${c.state.padEnd(17)} ${c.engine.padEnd(8)} ${String(c.nodes).padStart(2)} nodes ${c.ready ? 'ready' : 'not ready'}  ${c.kubeconfig}`,
    );
  return 0;
}

async function clean(a: Args): Promise<number> {
  const r = await cleanClusters({ all: a.flag('all'), log: (l) => console.log(`  ${l}`) });
  for (const x of r.removed) console.log(`removed cluster ${x.name}`);
  for (const x of r.kept) console.log(`kept ${x.name}: ${x.why}`);
  for (const x of r.failed) console.log(`could not remove ${x.name}: ${x.error}`);
  for (const x of r.engines) console.log(`swept engine ${x}`);
  if (!r.removed.length && !r.engines.length && !r.failed.length) console.log('nothing to clean');
  return r.failed.length ? 1 : 0;
}

async function exec(a: Args): Promise<number> {
  const c = await KindCluster.open(a.positional('NAME')!);
  const [file, ...args] = c.docker.argv(['exec', '--interactive', a.positional('NODE')!, ...a.rest]);
  return new Promise((resolve) => {
    const child = spawn(file!, args, { stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    child.on('error', (e) => {
      console.error(e.message);
      resolve(127);
    });
  });
}

async function kubeconfig(a: Args): Promise<number> {
  console.log((await KindCluster.open(a.positional('NAME')!)).kubeconfig);
  return 0;
}
