/**
 * Integration: any CNI through the CNI protocol, on real namespaces. Debian's containernetworking-
 * plugins ptp + host-local wire two nodes' pods (examples/generic-cni-ptp.yaml); a recording
 * plugin chained after ptp sees every call with its prevResult; traffic flows; CHECK passes on the
 * cached results; teardown calls DEL in reverse and leaves nothing. A plugin that fails mid-way
 * fails the lab with its own message, and the lab still comes down completely.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { findBuilt, cniPlugins } from '../../components/index.js';
import { LabAgents } from '../../lab/agents.js';
import { labContributors, labStages } from '../../lab/contributors.js';
import { Lab, newRunId } from '../../lab/lab.js';
import { listNetns, runDir } from '../../lab/state.js';
import { requireLab } from '../../lab/test-support.js';
import { validateTopology, type Topology } from '../../model/topology.js';
import { checkRealCniPods, CniStageError } from './stage.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));

/** Records CNI_COMMAND, the pod and whether prevResult came, then passes prevResult on (or fails). */
const RECORDER = `#!${process.execPath}
const fs = require('node:fs');
const conf = JSON.parse(fs.readFileSync(0, 'utf8'));
if (process.env.CNI_COMMAND === 'VERSION') { process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, supportedVersions: ['0.4.0', '1.0.0'] })); process.exit(0); }
const args = Object.fromEntries((process.env.CNI_ARGS || '').split(';').map((kv) => kv.split('=')));
fs.appendFileSync(conf.log, JSON.stringify({ cmd: process.env.CNI_COMMAND, pod: args.K8S_POD_NAME,
  prevIps: (conf.prevResult && conf.prevResult.ips || []).map((i) => i.address) }) + '\\n');
if (process.env.CNI_COMMAND === 'ADD' && conf.failFor === args.K8S_POD_NAME) {
  process.stderr.write('recorder: refusing ' + args.K8S_POD_NAME + '\\n');
  process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, code: 7, msg: 'recorder refuses this pod', details: args.K8S_POD_NAME }));
  process.exit(1);
}
if (process.env.CNI_COMMAND === 'ADD') process.stdout.write(JSON.stringify(conf.prevResult));
`;

describe('real CNI: any plugin through the CNI protocol (ptp + host-local)', function () {
  this.timeout(120_000);
  let dir: string;
  let bin: string;
  let log: string;

  before(async function () {
    requireLab(this);
    if (!(await findBuilt(cniPlugins))) {
      console.log(
        '      skipped: containernetworking-plugins is not installed (apt-get install containernetworking-plugins)',
      );
      this.skip();
    }
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rp-cni-plugin-'));
    bin = join(dir, 'bin');
    log = join(dir, 'calls.log');
    await mkdir(bin);
    for (const p of ['ptp', 'host-local']) await symlink(join('/usr/lib/cni', p), join(bin, p));
    await writeFile(join(bin, 'recorder'), RECORDER);
    await chmod(join(bin, 'recorder'), 0o755);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  function topology(extra: Record<string, unknown> = {}): Topology {
    const doc = parseYaml(
      // The example, with the conflist inline and the recorder chained after ptp.
      readFileSync(`${repo}examples/generic-cni-ptp.yaml`, 'utf8'),
    ) as Record<string, Record<string, unknown>>;
    const conflist = JSON.parse(readFileSync(`${repo}examples/cni/ptp-host-local.conflist`, 'utf8')) as {
      plugins: unknown[];
    };
    conflist.plugins.push({ type: 'recorder', log, ...extra });
    doc['defaults'] = { cni: { profile: 'plugin', conflist, binDir: bin } };
    return validateTopology(doc, 'generic-cni-ptp');
  }

  async function calls(): Promise<{ cmd: string; pod: string; prevIps: string[] }[]> {
    return (await readFile(log, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as never);
  }

  it('wires pods with the topology addresses, passes traffic, CHECKs, and DELs on teardown', async () => {
    const t = topology();
    const lab = await Lab.up(t, { contributors: labContributors(), stages: labStages(t) });
    const namespaces = lab.hosts.map((h) => h.netns);
    try {
      const agents = new LabAgents(lab);
      await agents.serve(['web-a'], 8080);
      const r = await (
        await agents.get('client-b')
      ).probe({
        kind: 'tcp',
        host: '10.244.1.10',
        port: 8080,
        attempts: 10,
        deadlineMs: 1000,
      });
      expect(r.counts.connected, r.reproduce).to.equal(10);
      expect(r.attempts[0]!.peer?.replace(/:\d+$/, '').replace(/^::ffff:/, '')).to.equal('10.244.2.10');
      const addr = await lab.host('pod/web-a').run(['ip', '-4', '-o', 'addr', 'show', 'eth0']);
      expect(addr.stdout).to.include('10.244.1.10/16');
      await checkRealCniPods(lab, t);
    } finally {
      await lab.down();
    }
    const c = await calls();
    const of = (cmd: string): string[] =>
      c.filter((x) => x.cmd === cmd).map((x) => `${x.pod} ${x.prevIps.join(',')}`);
    // The recorder, second in the chain, always got ptp's result as prevResult.
    expect(of('ADD').sort()).to.deep.equal(['client-b 10.244.2.10/16', 'web-a 10.244.1.10/16']);
    expect(of('CHECK').sort()).to.deep.equal(['client-b 10.244.2.10/16', 'web-a 10.244.1.10/16']);
    expect(of('DEL').sort()).to.deep.equal(['client-b 10.244.2.10/16', 'web-a 10.244.1.10/16']);
    const left = (await listNetns()).filter((n) => namespaces.includes(n));
    expect(left).to.deep.equal([]);
    expect(
      await access(runDir(lab.runId)).then(
        () => true,
        () => false,
      ),
    ).to.equal(false);
  });

  it("a plugin's CNI error fails the lab with its message; every pod gets DEL and nothing is left", async () => {
    const t = topology({ failFor: 'web-a' });
    const runId = newRunId();
    const err = await Lab.up(t, { runId, contributors: labContributors(), stages: labStages(t) }).then(
      async (lab) => {
        await lab.down();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(CniStageError);
    expect((err as Error).message).to.match(
      /^node node-a, pod web-a: plugin lab-ptp \(ptp \+ recorder\) ADD failed: plugin recorder ADD \(container [0-9a-f]{64}, eth0\): error 7: recorder refuses this pod: web-a; stderr: recorder: refusing web-a/,
    );
    // Both pods get DEL, the failed one too (as a container runtime cleans up a failed sandbox).
    const c = await calls();
    expect(
      c
        .filter((x) => x.cmd === 'DEL')
        .map((x) => x.pod)
        .sort(),
    ).to.deep.equal(['client-b', 'web-a']);
    expect((await listNetns()).filter((n) => n.startsWith(`rp-${runId}-`))).to.deep.equal([]);
    expect(
      await access(runDir(runId)).then(
        () => true,
        () => false,
      ),
    ).to.equal(false);
  });
});
