/**
 * Integration: the real AWS VPC CNI (pinned builds of v1.23 and v1.7) in a lab node. The node
 * helper and the plugin write the rules (read back from the kernel), the ipamd stand-in answers
 * only pods the topology knows, faults surface as the plugin's own message, and the lab comes down
 * completely: no namespace, no stand-in or forwarder process, no file.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { access, chmod, cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { findBuilt, vpcCni, vpcCniLegacy, type BuiltComponent } from '../../components/index.js';
import { CommandRunner, type CommandResult, type RunOptions } from '../../exec/command.js';
import { labContributors, labStages } from '../../lab/contributors.js';
import { Lab, newRunId } from '../../lab/lab.js';
import { listNetns, runDir } from '../../lab/state.js';
import { requireLab } from '../../lab/test-support.js';
import { validateTopology, type Topology } from '../../model/topology.js';
import { runCell } from '../../scenario/run-cell.js';
import type { CellSpec } from '../../scenario/cell.js';
import { CniError } from '../protocol/index.js';
import { realCniNode } from './stage.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));

/** The seed 000 example (one node, a pod on the secondary ENI, an internet-facing NLB) with `cni`. */
function seed000(cni: Record<string, unknown>): Record<string, unknown> {
  const doc = parseYaml(readFileSync(join(repo, 'examples/seed-000-eni-rp-filter.yaml'), 'utf8')) as {
    nodes: Record<string, unknown>[];
  };
  doc.nodes[0]!['cni'] = cni;
  return doc as unknown as Record<string, unknown>;
}

/** Remembers the run ids of the labs it creates namespaces for (runCell picks them itself). */
class RecordingRunner extends CommandRunner {
  readonly runIds = new Set<string>();
  override run(argv: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    for (const m of (opts.input ?? '').matchAll(/^netns add rp-([0-9a-f]{6})-/gm)) this.runIds.add(m[1]!);
    return super.run(argv, opts);
  }
}

/** Pids of processes whose command line mentions `needle` (our run's stand-in or forwarder). */
async function processesMentioning(needle: string): Promise<number[]> {
  const out: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(needle)) out.push(Number(p));
  }
  return out;
}

async function nothingLeft(runId: string): Promise<void> {
  expect((await listNetns()).filter((n) => n.startsWith(`rp-${runId}-`))).to.deep.equal([]);
  expect(await processesMentioning(runDir(runId))).to.deep.equal([]);
  expect(
    await access(runDir(runId)).then(
      () => true,
      () => false,
    ),
  ).to.equal(false);
  expect(
    await access('/var/run/aws-node').then(
      () => true,
      () => false,
    ),
    'the machine gained /var/run/aws-node',
  ).to.equal(false);
}

describe('real VPC CNI in a lab node (pinned builds)', function () {
  this.timeout(180_000);
  let current: BuiltComponent | undefined;
  let legacy: BuiltComponent | undefined;

  before(async function () {
    requireLab(this);
    current = await findBuilt(vpcCni);
    legacy = await findBuilt(vpcCniLegacy);
    if (!current || !legacy) {
      console.log(
        "      skipped: the VPC CNI is not built: run 'returnpath components build vpc-cni vpc-cni-legacy'",
      );
      this.skip();
    }
  });

  async function up(t: Topology): Promise<Lab> {
    return Lab.up(t, { runId: newRunId(), contributors: labContributors(), stages: labStages(t) });
  }

  it('v1.23: the plugin writes rules 512/1536, the node helper 1024/32765 and the nft connmark; ipamd refuses a pod the topology lacks', async () => {
    const t = validateTopology(seed000({ profile: 'vpc-cni', implementation: 'real' }), 'seed 000 real');
    const lab = await up(t);
    const runId = lab.runId;
    try {
      const node = lab.host('node-1');
      const rules = (await node.run(['ip', 'rule', 'show'])).stdout;
      expect(rules).to.match(/^512:\s+from all to 10\.0\.1\.50 lookup main/m);
      expect(rules).to.match(/^1024:\s+from all fwmark 0x80\/0x80 lookup main/m);
      expect(rules).to.match(/^1536:\s+from 10\.0\.1\.50 lookup 2\s*$/m);
      expect(rules).to.match(/^32765:\s+from 10\.0\.1\.20 lookup 2/m);
      expect((await node.run(['nft', 'list', 'table', 'ip', 'aws-cni'])).stdout).to.include(
        'ct mark set ct mark | 0x00000080',
      );
      expect((await node.run(['sysctl', '-n', 'net.ipv4.conf.eth0.rp_filter'])).stdout.trim()).to.equal('2');
      const pod = lab.host('pod/web');
      expect((await pod.run(['ip', 'route'])).stdout).to.match(/default via 169\.254\.1\.1 dev eth0/);
      expect(await processesMentioning(runDir(runId))).to.have.length(1); // the stand-in

      const { runtime, conflist, podConf } = await realCniNode(lab, t, 'node-1');
      const ghost = podConf(t.pods[0]!);
      let err: unknown;
      await runtime
        .addNetworkList(conflist, {
          ...ghost,
          containerId: 'f00d',
          args: ghost.args!.map(([k, v]) => [k, k === 'K8S_POD_NAME' ? 'ghost' : v] as const),
        })
        .catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(CniError);
      expect((err as Error).message).to.match(
        /plugin aws-cni ADD \(container f00d, eth0\): error \d+: add cmd: Error received from AddNetwork gRPC call: rpc error: code = NotFound desc = ipamd stand-in on node node-1: the topology has no pod "default\/ghost" on this node \(pods here: default\/web\)/,
      );
    } finally {
      await lab.down();
    }
    await nothingLeft(runId);
  });

  it('v1.7: rule 1536 per VPC CIDR, through the TCP forwarder to the stand-in; the forwarder goes with the lab', async () => {
    const t = validateTopology(
      seed000({ profile: 'vpc-cni-legacy', implementation: 'real' }),
      'seed 000 legacy',
    );
    const lab = await up(t);
    const runId = lab.runId;
    try {
      const rules = (await lab.host('node-1').run(['ip', 'rule', 'show'])).stdout;
      expect(rules).to.match(/^1536:\s+from 10\.0\.1\.50 to 10\.0\.0\.0\/16 lookup 2/m);
      expect(rules).to.not.match(/^32765:/m);
      expect(await processesMentioning(runDir(runId))).to.have.length(2); // stand-in and forwarder
    } finally {
      await lab.down();
    }
    await nothingLeft(runId);
  });

  describe('faults: a broken build', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'rp-broken-cni-'));
      await cp(current!.dir, dir, { recursive: true });
      await writeFile(
        join(dir, 'manifest.json'),
        JSON.stringify({ name: 'vpc-cni', version: 'broken', source: '/src/broken' }),
      );
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    async function brokenCell(file: string, script: string): Promise<CellSpec> {
      await rm(join(dir, file));
      await writeFile(join(dir, file), `#!/bin/sh\n${script}\n`);
      await chmod(join(dir, file), 0o755);
      return {
        suite: 'faults',
        id: 'broken',
        title: 'a broken real CNI',
        seeds: [],
        configuration: {},
        topology: seed000({ profile: 'vpc-cni', implementation: 'real', build: dir }),
        flow: { from: 'curl-loop', to: { nlb: 'web-nlb', port: 80 }, attempts: 2 },
        expect: { outcome: { kind: 'all', outcome: 'connected' } },
        pathWorks: true,
        explanation: 'the lab never comes up',
      };
    }

    it("a plugin's CNI error makes the cell an error with the plugin's message, and the lab comes down", async () => {
      const runner = new RecordingRunner();
      const cell = await brokenCell(
        'bin/aws-cni',
        `cat >/dev/null; echo 'plugin stderr line' >&2; echo '{"cniVersion":"0.4.0","code":11,"msg":"add cmd: failed to assign an IP address to container"}'; exit 1`,
      );
      const r = await runCell(cell, { runner });
      expect(r.status).to.equal('error');
      expect(r.reason).to.match(
        /^node node-1, pod web: real vpc-cni source \/src\/broken \(build .*\) ADD failed: plugin aws-cni ADD \(container [0-9a-f]{64}, eth0\): error 11: add cmd: failed to assign an IP address to container; stderr: plugin stderr line/,
      );
      expect(r.implementation?.cni).to.match(/^real vpc-cni source \/src\/broken/);
      expect(runner.runIds.size).to.be.greaterThan(0);
      for (const id of runner.runIds) await nothingLeft(id);
      expect(await processesMentioning(dir)).to.deep.equal([]);
    });

    it('a failing node setup names the node and its stderr, and the lab comes down', async () => {
      const cell = await brokenCell(
        'bin/vpc-cni-node',
        `cat >/dev/null; echo 'vpc-cni-node: SetupHostNetwork: no such device' >&2; exit 1`,
      );
      const r = await runCell(cell);
      expect(r.status).to.equal('error');
      expect(r.reason).to.match(
        /^node node-1: real vpc-cni .* node setup \(SetupHostNetwork\/SetupENINetwork\) failed: vpc-cni-node: SetupHostNetwork: no such device$/,
      );
      expect(await processesMentioning(dir)).to.deep.equal([]);
    });

    it('a build directory without the binaries is bad input naming the field', async () => {
      await rm(join(dir, 'bin/cni-exec'));
      const t = validateTopology(seed000({ profile: 'vpc-cni', implementation: 'real', build: dir }), 'x');
      const runId = newRunId();
      const err = await Lab.up(t, { runId, contributors: labContributors(), stages: labStages(t) }).then(
        async (l) => l.down(),
        (e: unknown) => e,
      );
      expect((err as Error).name).to.equal('ValidationError');
      expect((err as Error).message).to.include(
        `nodes[0].cni.build: holds no VPC CNI build (missing bin/cni-exec)`,
      );
      await nothingLeft(runId);
    });
  });
});
