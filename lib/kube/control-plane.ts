/**
 * A real Kubernetes control plane on the host's loopback for one run: one etcd, and per
 * concurrency slot one kube-apiserver (its own --etcd-prefix) and one kube-controller-manager
 * running only the EndpointSlice, ServiceAccount and Namespace controllers. Every cell that runs
 * on a slot has that slot's apiserver to itself (ClusterIPs and node ports of concurrent cells
 * would collide in one apiserver, and every kube-proxy sees every Service of its apiserver).
 *
 * Everything listens on a loopback address of its own (127.X.Y.Z: the whole of 127/8 is local, so
 * nothing is added to the host's configuration) and on unix sockets in the control plane's
 * directory. Node namespaces cannot reach the host's loopback: a relay per slot exposes the
 * apiserver on a unix socket, which relays inside the node namespaces dial (kube-stage.ts).
 *
 * Stop order: controller-managers, apiservers, etcd (an apiserver whose etcd is gone hangs on
 * shutdown). Kube-proxies belong to cells and stop before any of these.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { EnvironmentError } from '../errors.js';
import { CommandRunner } from '../exec/command.js';
import { DIST_DIR } from '../lab/lab.js';
import { STATE_DIR } from '../lab/state.js';
import { ComponentProcess } from './component-process.js';
import { httpGet } from './http.js';
import { renderKubeconfig } from './kubeconfig.js';
import { generatePki, type Pki, type PkiUser } from './pki.js';
import { forwardArg } from './relay-spec.js';
import { KubeState } from './state.js';
import { done, notYet, waitFor, type CheckResult } from './wait.js';

/**
 * The apiservers' own Service range (`--service-cluster-ip-range`): the `kubernetes` Service takes
 * its first address. Cells bring their topology's Service CIDR as a ServiceCIDR object
 * (networking.k8s.io/v1, GA since 1.33). A topology must not use this range (checked per cell).
 */
export const CONTROL_PLANE_SERVICE_RANGE = '198.19.255.240/28';

export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
}

export interface ControlPlaneOptions {
  /** One apiserver + controller-manager per slot (cells running at once). */
  slots: number;
  binaries: ControlPlaneBinaries;
  /** Kubernetes version, for logs and results. */
  version: string;
  runner?: CommandRunner;
  /** Left up by `lab up --kubernetes`: detached processes, directory and record under the state dir. */
  persistentId?: string;
  log?: (line: string) => void;
  /** Per-component readiness deadline. */
  timeoutMs?: number;
}

export interface ControlPlaneSlot {
  index: number;
  /** https://127.X.Y.Z:6443 on the host. */
  url: string;
  /** Unix socket relayed to the apiserver (TLS passes through): what node namespaces dial. */
  socket: string;
  apiserver: ComponentProcess;
  controllerManager: ComponentProcess;
  relay: ComponentProcess;
  /** kubeconfig text for `user` with the given server (default: the host URL). */
  kubeconfig(user: PkiUser, server?: string): Promise<string>;
  /** A client-node KubeConfig of the admin user. */
  adminConfig(): Promise<KubeConfig>;
  /** The components this slot's cells depend on (its own and etcd). */
  components(): ComponentProcess[];
}

interface Endpoints {
  base: string;
  etcdClient: string;
  etcdPeer: string;
  /** Where the lab kubelet (serve mode) listens: the apiserver dials it for exec. */
  kubelet: { host: string; port: number };
  apiserver: (slot: number) => { host: string; port: number };
}

const APISERVER_PORT = 6443;
/** The kubelet's port (status.daemonEndpoints.kubeletEndpoint.Port). */
export const KUBELET_PORT = 10250;
/**
 * The Node address type whose value is the lab kubelet's loopback address: the apiserver dials
 * that type first (`--kubelet-preferred-address-types`); InternalIP stays the node's VPC address
 * (kube-proxy and the NLB use it).
 */
export const KUBELET_ADDRESS_TYPE = 'InternalDNS';

/** Loopback addresses this run alone uses: 127.X.Y.1 for etcd, .2 for the lab kubelet, 127.X.Y.(10+i) for slot i. */
async function pickEndpoints(slots: number): Promise<Endpoints> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const [x, y] = randomBytes(2);
    const base = `127.${16 + (x! % 224)}.${y}`;
    const ep: Endpoints = {
      base,
      etcdClient: `${base}.1:2379`,
      etcdPeer: `${base}.1:2380`,
      kubelet: { host: `${base}.2`, port: KUBELET_PORT },
      apiserver: (i) => ({ host: `${base}.${10 + i}`, port: APISERVER_PORT }),
    };
    const probes = [
      { host: `${base}.1`, port: 2379 },
      { host: `${base}.1`, port: 2380 },
      ep.kubelet,
      ...Array.from({ length: slots }, (_, i) => ep.apiserver(i)),
    ];
    if ((await Promise.all(probes.map((p) => portFree(p.host, p.port)))).every(Boolean)) return ep;
  }
  throw new EnvironmentError('no free loopback address for the control plane after 20 tries');
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

export class ControlPlane {
  readonly slots: ControlPlaneSlot[] = [];
  private stopped: Promise<void> | undefined;

  private constructor(
    readonly dir: string,
    readonly pki: Pki,
    readonly version: string,
    readonly etcd: ComponentProcess,
    private readonly state: KubeState,
    private readonly endpoints: Endpoints,
    private readonly started: ComponentProcess[],
  ) {}

  /** Starts etcd, then every slot's apiserver, relay and controller-manager, and waits until each is ready. */
  static async start(opts: ControlPlaneOptions): Promise<ControlPlane> {
    const log = opts.log ?? (() => undefined);
    const runner = opts.runner ?? new CommandRunner();
    const timeoutMs = opts.timeoutMs ?? 90_000;
    const persistent = opts.persistentId !== undefined;
    const id = opts.persistentId ?? randomBytes(3).toString('hex');
    let dir: string;
    if (persistent) {
      dir = join(STATE_DIR, `kube-${id}`);
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } else dir = await mkdtemp(join(tmpdir(), 'returnpath-kube-'));
    // Recorded before anything starts, so a crash from here on is swept by `lab clean`.
    const state = await KubeState.create(id, dir, persistent);
    const started: ComponentProcess[] = [];
    const launch = async (name: string, argv: string[]): Promise<ComponentProcess> => {
      const p = ComponentProcess.start({
        name,
        argv,
        logFile: join(dir, 'logs', `${name.replace(/[^a-z0-9.-]+/gi, '-')}.log`),
        detached: persistent,
      });
      started.push(p);
      await state.add(name, p.identity());
      return p;
    };
    try {
      await mkdir(join(dir, 'logs'), { recursive: true });
      await mkdir(join(dir, 'sockets'), { recursive: true });
      const ep = await pickEndpoints(opts.slots);
      const t0 = performance.now();
      const pki = await generatePki(runner, join(dir, 'pki'), {
        ips: ['127.0.0.1', ...Array.from({ length: opts.slots }, (_, i) => ep.apiserver(i).host)],
        kubeletIps: [ep.kubelet.host],
      });
      log(`control plane: PKI in ${Math.round(performance.now() - t0)} ms`);

      const etcd = await launch('etcd', [
        opts.binaries.etcd,
        '--name=returnpath',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=http://${ep.etcdClient}`,
        `--advertise-client-urls=http://${ep.etcdClient}`,
        `--listen-peer-urls=http://${ep.etcdPeer}`,
        `--initial-advertise-peer-urls=http://${ep.etcdPeer}`,
        `--initial-cluster=returnpath=http://${ep.etcdPeer}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ]);
      const tls = {
        ca: await readFile(pki.caCert),
        cert: await readFile(pki.client.admin.cert),
        key: await readFile(pki.client.admin.key),
      };
      // Everything starts at once; each waits for what it needs (the apiserver retries etcd).
      const etcdReady = (async () => {
        await waitFor(
          async () => {
            const r = await httpGet(`http://${ep.etcdClient}/health`);
            return r.status === 200 && /"health":"true"/.test(r.body)
              ? done(true)
              : notYet(`${r.status} ${r.body}`);
          },
          { what: 'etcd to be healthy', components: [etcd], timeoutMs, maxIntervalMs: 50 },
        );
        log(`control plane: etcd ready in ${Math.round(performance.now() - t0)} ms`);
      })();
      etcdReady.catch(() => undefined); // awaited below; a slot's failure may come first
      const slots = await Promise.all(
        Array.from({ length: opts.slots }, async (_, i) => {
          const { host, port } = ep.apiserver(i);
          const url = `https://${host}:${port}`;
          const apiserver = await launch(`kube-apiserver.slot${i}`, [
            opts.binaries.kubeApiserver,
            `--etcd-servers=http://${ep.etcdClient}`,
            `--etcd-prefix=/registry-slot${i}`,
            `--bind-address=${host}`,
            `--advertise-address=${host}`,
            `--secure-port=${port}`,
            `--tls-cert-file=${pki.serverCert}`,
            `--tls-private-key-file=${pki.serverKey}`,
            `--client-ca-file=${pki.caCert}`,
            `--service-account-issuer=https://kubernetes.default.svc`,
            `--service-account-key-file=${pki.saPub}`,
            `--service-account-signing-key-file=${pki.saKey}`,
            `--service-cluster-ip-range=${CONTROL_PLANE_SERVICE_RANGE}`,
            // As kubeadm and EKS set it: returnpath's node agents (run --kubeconfig) are privileged.
            '--allow-privileged=true',
            '--authorization-mode=RBAC',
            // Exec and logs reach the lab kubelet (serve mode) at its loopback address, over TLS both ways.
            `--kubelet-preferred-address-types=${KUBELET_ADDRESS_TYPE},InternalIP,Hostname`,
            `--kubelet-client-certificate=${pki.client['apiserver-kubelet-client'].cert}`,
            `--kubelet-client-key=${pki.client['apiserver-kubelet-client'].key}`,
            `--kubelet-certificate-authority=${pki.caCert}`,
            // No Endpoints for the `kubernetes` Service: its address is loopback, which no node reaches.
            '--endpoint-reconciler-type=none',
            '--enable-priority-and-fairness=false',
            '--profiling=false',
            '--v=1',
          ]);
          // The controller-manager gives up if the apiserver is not healthy within 10 s of its start:
          // it starts once the apiserver serves (its process start then overlaps the apiserver's last steps).
          await waitFor(
            async () => {
              const r = await httpGet(`${url}/livez`, tls);
              return done(r.status);
            },
            {
              what: `kube-apiserver of slot ${i} to serve (${url})`,
              components: [etcd, apiserver],
              timeoutMs,
              maxIntervalMs: 50,
            },
          );
          const kubeconfig = (user: PkiUser, server = url): Promise<string> =>
            renderKubeconfig(pki, { server, user, cluster: `returnpath-${id}-slot${i}` });
          const kcmConfig = join(dir, `kube-controller-manager.slot${i}.kubeconfig`);
          await writeFile(kcmConfig, await kubeconfig('kube-controller-manager'), { mode: 0o600 });
          const controllerManager = await launch(`kube-controller-manager.slot${i}`, [
            opts.binaries.kubeControllerManager,
            `--kubeconfig=${kcmConfig}`,
            // Not the ServiceCIDR controller: its finalizer holds a deleted ServiceCIDR for 10 s, and
            // without its Ready condition the apiserver's allocator takes a ServiceCIDR as ready.
            // The Namespace controller empties and removes a deleted namespace (what `run --kubeconfig`
            // and `clean --kubeconfig` wait for).
            '--controllers=endpointslice,serviceaccount,namespace',
            '--use-service-account-credentials=true',
            `--service-account-private-key-file=${pki.saKey}`,
            `--root-ca-file=${pki.caCert}`,
            '--leader-elect=false',
            '--secure-port=0',
            '--profiling=false',
            '--v=1',
          ]);
          await waitFor(
            async () => {
              const r = await httpGet(`${url}/readyz`, tls);
              return r.status === 200 ? done(true) : notYet(`${r.status} ${r.body.slice(-300)}`);
            },
            {
              what: `kube-apiserver of slot ${i} to be ready (${url}/readyz)`,
              components: [etcd, apiserver, controllerManager],
              timeoutMs,
              maxIntervalMs: 50,
            },
          );
          const socket = join(dir, 'sockets', `apiserver-${i}.sock`);
          const relay = await launch(`apiserver-relay.slot${i}`, [
            process.execPath,
            join(DIST_DIR, 'lib/kube/relay.js'),
            forwardArg({ kind: 'unix', path: socket }, { kind: 'tcp', host, port }),
          ]);
          await waitFor(
            () =>
              new Promise<CheckResult<boolean>>((resolve) => {
                const c = connect(socket);
                c.once('connect', () => {
                  c.destroy();
                  resolve(done(true));
                });
                c.once('error', (e) => resolve(notYet(e.message)));
              }),
            {
              what: `the apiserver relay of slot ${i} (${socket})`,
              components: [relay],
              timeoutMs,
              maxIntervalMs: 50,
            },
          );
          const slot: ControlPlaneSlot = {
            index: i,
            url,
            socket,
            apiserver,
            controllerManager,
            relay,
            kubeconfig,
            adminConfig: async () => {
              const kc = new KubeConfig();
              kc.loadFromString(await kubeconfig('admin'));
              return kc;
            },
            components: () => [etcd, apiserver, controllerManager, relay],
          };
          // The controller-manager works once the ServiceAccount controller made default/default.
          await waitFor(
            async () => {
              const r = await httpGet(`${url}/api/v1/namespaces/default/serviceaccounts/default`, tls);
              return r.status === 200 ? done(true) : notYet(`default/default: HTTP ${r.status}`);
            },
            {
              what: `kube-controller-manager of slot ${i} to run its controllers`,
              components: slot.components(),
              timeoutMs,
              maxIntervalMs: 50,
            },
          );
          log(`control plane: slot ${i} ready at ${url} in ${Math.round(performance.now() - t0)} ms`);
          return slot;
        }),
      );
      await etcdReady;
      const cp = new ControlPlane(dir, pki, opts.version, etcd, state, ep, started);
      cp.slots.push(...slots);
      return cp;
    } catch (e) {
      await stopAll(started);
      await rm(dir, { recursive: true, force: true });
      await state.remove();
      throw e;
    }
  }

  get id(): string {
    return this.state.record.id;
  }

  /** Every component, in start order. */
  components(): ComponentProcess[] {
    return [...this.started];
  }

  /** A component of the control plane that is no longer running, if any. */
  dead(): ComponentProcess | undefined {
    return this.started.find((c) => !c.running);
  }

  /** Resident memory of every component (bytes), from /proc. */
  async memory(): Promise<{ name: string; rssBytes: number }[]> {
    return Promise.all(
      this.started.map(async (c) => {
        const status = await readFile(`/proc/${c.pid}/status`, 'utf8').catch(() => '');
        const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
        return { name: c.name, rssBytes: kb * 1024 };
      }),
    );
  }

  get loopbackBase(): string {
    return this.endpoints.base;
  }

  /** Where the lab kubelet of serve mode listens (run-private loopback address, KUBELET_PORT). */
  get kubeletEndpoint(): { host: string; port: number } {
    return { ...this.endpoints.kubelet };
  }

  /**
   * Starts a process that belongs with the control plane (serve mode's lab controller): recorded
   * before it runs, detached when the control plane is left up, stopped first by stop(), by
   * `lab down` and by `lab clean`.
   */
  async startComponent(name: string, argv: readonly string[]): Promise<ComponentProcess> {
    const p = ComponentProcess.start({
      name,
      argv,
      logFile: join(this.dir, 'logs', `${name.replace(/[^a-z0-9.-]+/gi, '-')}.log`),
      detached: this.state.record.owner.pid === 0,
    });
    this.started.push(p);
    await this.state.add(name, p.identity());
    return p;
  }

  /** Stops relays and controller-managers, then apiservers, then etcd; removes the directory and record. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      await stopAll(this.started);
      await rm(this.dir, { recursive: true, force: true });
      await this.state.remove();
    })();
    return this.stopped;
  }
}

/** controller-managers and relays first, then apiservers, then etcd. */
async function stopAll(started: readonly ComponentProcess[]): Promise<void> {
  const rank = (c: ComponentProcess): number =>
    c.name.startsWith('etcd') ? 2 : c.name.startsWith('kube-apiserver') ? 1 : 0;
  for (const r of [0, 1, 2]) await Promise.all(started.filter((c) => rank(c) === r).map((c) => c.stop()));
}
