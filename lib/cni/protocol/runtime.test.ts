import { expect } from 'chai';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../../errors.js';
import { parseConflist, type Conflist } from '../../model/conflist.js';
import { CniError } from './invoke.js';
import { buildPluginConf, CniRuntime, PluginNotFoundError } from './runtime.js';

/**
 * A plugin that records each call (command, CNI_* environment, stdin) as a JSON line in $FAKE_LOG
 * and behaves as its `fake` key says: add an IP to the result, fail with a CNI error, write to
 * stderr, sleep, print garbage.
 */
const FAKE_PLUGIN = `#!${process.execPath}
const fs = require('node:fs');
const input = fs.readFileSync(0, 'utf8');
const conf = JSON.parse(input);
const f = conf.fake || {};
const cmd = process.env.CNI_COMMAND;
fs.appendFileSync(process.env.FAKE_LOG, JSON.stringify({
  plugin: require('node:path').basename(process.argv[1]), cmd,
  env: { id: process.env.CNI_CONTAINERID, netns: process.env.CNI_NETNS, ifname: process.env.CNI_IFNAME,
         args: process.env.CNI_ARGS, path: process.env.CNI_PATH },
  conf }) + '\\n');
if (f.stderr) process.stderr.write(f.stderr + '\\n');
const finish = () => {
  if (cmd === 'VERSION') { process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, supportedVersions: f.versions || ['0.4.0', '1.0.0'] })); return; }
  if (f.fail && (!f.failOn || f.failOn === cmd)) { process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, ...f.fail })); process.exit(1); }
  if (f.garbage) { process.stdout.write('not json'); return; }
  if (f.exit) process.exit(f.exit);
  if (cmd === 'ADD') {
    const r = conf.prevResult || { cniVersion: conf.cniVersion, interfaces: [], ips: [] };
    if (f.ip) r.ips.push({ address: f.ip });
    process.stdout.write(JSON.stringify(r));
  }
};
if (f.sleepMs) setTimeout(finish, f.sleepMs); else finish();
`;

describe('CNI protocol runtime (libcni semantics, fake plugins)', () => {
  let dir: string;
  let bin: string;
  let log: string;
  let rt: CniRuntime;
  const calls = async (): Promise<
    { plugin: string; cmd: string; env: Record<string, string>; conf: Record<string, unknown> }[]
  > =>
    (await readFile(log, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as never);
  const pod = { containerId: 'c0ffee', netns: '/run/netns/pod-a', ifName: 'eth0' };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rp-cni-'));
    bin = join(dir, 'bin');
    log = join(dir, 'calls.log');
    await rm(bin, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(bin));
    for (const name of ['first', 'second', 'third']) {
      await writeFile(join(bin, name), FAKE_PLUGIN);
      await chmod(join(bin, name), 0o755);
    }
    rt = new CniRuntime({
      binDirs: [bin],
      cacheDir: join(dir, 'cache'),
      env: { FAKE_LOG: log },
      timeoutMs: 5000,
    });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const list = (plugins: Record<string, unknown>[], extra: Record<string, unknown> = {}): Conflist =>
    parseConflist({ cniVersion: '1.0.0', name: 'lab-net', plugins, ...extra }, 'test');

  it('ADD chains plugins in order: name and cniVersion injected, each gets the previous result', async () => {
    const l = list([
      { type: 'first', fake: { ip: '10.0.0.5/24' } },
      { type: 'second', name: 'ignored', fake: { ip: '10.0.0.6/24' } },
    ]);
    const result = (await rt.addNetworkList(l, { ...pod, args: [['K8S_POD_NAME', 'web']] })) as {
      ips: { address: string }[];
    };
    expect(result.ips.map((i) => i.address)).to.deep.equal(['10.0.0.5/24', '10.0.0.6/24']);
    const c = await calls();
    expect(c.map((x) => `${x.cmd} ${x.plugin}`)).to.deep.equal(['ADD first', 'ADD second']);
    expect(c[0]!.conf['prevResult']).to.equal(undefined);
    expect(c[1]!.conf['prevResult']).to.deep.include({ cniVersion: '1.0.0' });
    expect(c[1]!.conf['name']).to.equal('lab-net');
    expect(c[1]!.env).to.deep.equal({
      id: 'c0ffee',
      netns: '/run/netns/pod-a',
      ifname: 'eth0',
      args: 'K8S_POD_NAME=web',
      path: bin,
    });
  });

  it('offers each plugin only the capability arguments it declares, as runtimeConfig', async () => {
    const l = list([{ type: 'first', capabilities: { portMappings: true, ips: false } }, { type: 'second' }]);
    await rt.addNetworkList(l, { ...pod, capabilityArgs: { portMappings: [{ hostPort: 80 }], ips: ['x'] } });
    const c = await calls();
    expect(c[0]!.conf['runtimeConfig']).to.deep.equal({ portMappings: [{ hostPort: 80 }] });
    expect(c[1]!.conf).to.not.have.property('runtimeConfig');
  });

  it('CHECK and DEL use the cached ADD result; DEL runs in reverse and forgets it', async () => {
    const l = list([{ type: 'first', fake: { ip: '10.0.0.5/24' } }, { type: 'second' }]);
    await rt.addNetworkList(l, pod);
    await rt.checkNetworkList(l, pod);
    await rt.delNetworkList(l, pod);
    const c = await calls();
    expect(c.map((x) => `${x.cmd} ${x.plugin}`)).to.deep.equal([
      'ADD first',
      'ADD second',
      'CHECK first',
      'CHECK second',
      'DEL second',
      'DEL first',
    ]);
    for (const x of c.slice(2))
      expect((x.conf['prevResult'] as { ips: { address: string }[] }).ips[0]!.address).to.equal(
        '10.0.0.5/24',
      );
    expect(await readdir(join(dir, 'cache'))).to.deep.equal([]);
    // CHECK needs a cached result; DEL without one still runs, without prevResult.
    let err: unknown;
    await rt.checkNetworkList(l, pod).catch((e: unknown) => (err = e));
    expect((err as Error).message).to.match(
      /no cached ADD result for container c0ffee eth0; CHECK needs one/,
    );
    await rt.delNetworkList(l, pod);
    expect((await calls()).slice(-1)[0]!.conf).to.not.have.property('prevResult');
  });

  it('skips CHECK when the list disables it, and refuses it before 0.4.0', async () => {
    await rt.checkNetworkList(list([{ type: 'first' }], { disableCheck: true }), pod);
    expect(await calls()).to.deep.equal([]);
    const old = parseConflist({ cniVersion: '0.3.1', name: 'n', plugins: [{ type: 'first' }] }, 't');
    let err: unknown;
    await rt.checkNetworkList(old, pod).catch((e: unknown) => (err = e));
    expect((err as Error).message).to.match(/cniVersion 0\.3\.1 does not support CHECK/);
  });

  it("keeps the plugin's JSON error and stderr, and stops the chain there", async () => {
    const l = list([
      {
        type: 'first',
        fake: {
          fail: { code: 11, msg: 'failed to assign an IP address', details: 'pool empty' },
          stderr: 'boom',
        },
      },
      { type: 'second' },
    ]);
    let err: unknown;
    await rt.addNetworkList(l, pod).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(CniError);
    const e = err as CniError;
    expect(e.body).to.deep.include({
      code: 11,
      msg: 'failed to assign an IP address',
      details: 'pool empty',
    });
    expect(e.stderr).to.equal('boom');
    expect(e.plugin).to.equal('first');
    expect(e.message).to.equal(
      'plugin first ADD (container c0ffee, eth0): error 11: failed to assign an IP address: pool empty; stderr: boom',
    );
    expect((await calls()).map((x) => x.plugin)).to.deep.equal(['first']);
  });

  it('a plugin that exits non-zero without an error object, prints garbage or hangs is a CniError', async () => {
    const errOf = async (fake: Record<string, unknown>, timeoutMs?: number): Promise<CniError> => {
      const r = timeoutMs
        ? new CniRuntime({ binDirs: [bin], cacheDir: join(dir, 'c2'), env: { FAKE_LOG: log }, timeoutMs })
        : rt;
      let err: unknown;
      await r.addNetworkList(list([{ type: 'first', fake }]), pod).catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(CniError);
      return err as CniError;
    };
    expect((await errOf({ exit: 3 })).message).to.match(/plugin first ADD .*: exited with 3$/);
    expect((await errOf({ garbage: true })).message).to.match(/printed something that is not JSON/);
    const hung = await errOf({ sleepMs: 10_000 }, 300);
    expect(hung.timedOut).to.equal(true);
    expect(hung.message).to.match(/no answer within 0\.3 s \(killed\)/);
  });

  it('finds plugins in CNI_PATH order and names what is missing', async () => {
    let err: unknown;
    await rt.addNetworkList(list([{ type: 'missing' }]), pod).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(PluginNotFoundError);
    expect((err as Error).message).to.equal(`plugin "missing" not found in ${bin}`);
  });

  it('validates a list against the versions its plugins report (VERSION)', async () => {
    const l = list([{ type: 'first' }, { type: 'second', fake: { versions: ['0.3.1'] } }]);
    // VERSION gets only cniVersion on stdin: the fake reports its default for the first.
    const problems = await rt.validateNetworkList(l);
    expect(problems).to.deep.equal([]);
    const old = list([{ type: 'first' }], { cniVersion: '1.1.0' });
    expect(await rt.validateNetworkList(old)).to.deep.equal([
      [0, 'plugin first does not speak cniVersion 1.1.0 (it supports 0.4.0, 1.0.0)'],
    ]);
  });
});

describe('CNI conflists', () => {
  it('names every problem with its path', () => {
    let err: unknown;
    try {
      parseConflist(
        { cniVersion: '0.2.0', name: '-bad', plugins: [{ type: 'ptp' }, { type: '../evil' }, {}] },
        'topology',
        'nodes[0].cni.conflist',
      );
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ValidationError);
    const paths = (err as ValidationError).problems.map((p) => p.path);
    expect(paths).to.deep.equal([
      'nodes[0].cni.conflist.cniVersion',
      'nodes[0].cni.conflist.name',
      'nodes[0].cni.conflist.plugins[1].type',
      'nodes[0].cni.conflist.plugins[2].type',
    ]);
  });

  it('turns a single plugin conf into a list of one, keeping unknown keys', () => {
    const l = parseConflist(
      { cniVersion: '1.0.0', name: 'n', type: 'ptp', ipam: { type: 'host-local' } },
      't',
    );
    expect(l.plugins).to.have.length(1);
    expect(l.plugins[0]).to.deep.include({ type: 'ptp', ipam: { type: 'host-local' } });
  });

  it('builds one plugin conf as libcni does', () => {
    const conf = buildPluginConf(
      { type: 'x', name: 'own', runtimeConfig: { keep: 1 }, capabilities: { mac: true } },
      { name: 'net', cniVersion: '1.0.0' },
      undefined,
      {},
    );
    expect(conf).to.deep.equal({
      type: 'x',
      name: 'net',
      cniVersion: '1.0.0',
      runtimeConfig: { keep: 1 },
      capabilities: { mac: true },
    });
  });
});
