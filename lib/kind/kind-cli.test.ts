/**
 * `returnpath kind` as a user meets it on a machine that lacks something, or with bad input: the
 * exit code, the message with the fix, and nothing made (no cluster record, no engine).
 */
import { expect } from 'chai';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../cli/cli-test-support.js';
import { kindStateDir } from './records.js';

describe('returnpath kind: bad input and a machine that lacks something', function () {
  this.timeout(60_000);
  let dir: string;
  const name = `rp-cli-${process.pid}`;
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    ...process.env,
    // An empty component cache: nothing is built there.
    RETURNPATH_CACHE_DIR: join(dir, 'cache'),
    ...extra,
  });
  const nothingMade = async (): Promise<void> => {
    const state = await readdir(kindStateDir()).catch(() => [] as string[]);
    expect(state).to.not.include(`${name}.json`);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rp-kind-cli-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('without the built components: exit 3 naming them and the command that builds them', async () => {
    const r = await runCli(['kind', 'up', '--name', name], { env: env() });
    expect(r.code, r.stderr).to.equal(3);
    if (process.getuid?.() === 0) {
      expect(r.stderr).to.include('not built: engine, runc, docker-cli, kind, kind-node');
      expect(r.stderr).to.include("'returnpath components build engine runc docker-cli kind kind-node'");
    } else expect(r.stderr).to.include('needs root');
    await nothingMade();
  });

  it("--docker without a docker CLI: exit 3 pointing at Docker, or at returnpath's own engine", async () => {
    const r = await runCli(['kind', 'up', '--name', name, '--docker'], { env: env({ PATH: dir }) });
    expect(r.code, r.stderr).to.equal(3);
    expect(r.stderr).to.include('no docker CLI on PATH');
    expect(r.stderr).to.include("drop --docker to use returnpath's own engine");
    await nothingMade();
  });

  it('bad input: exit 2 naming the argument and what is allowed', async () => {
    const image = await runCli(['kind', 'up', '--image', 'kindest/node:v1.36.3'], { env: env() });
    expect(image.code).to.equal(2);
    expect(image.stderr).to.include('only with --docker');
    const workers = await runCli(['kind', 'up', '--workers', '12'], { env: env() });
    expect(workers.code).to.equal(2);
    expect(workers.stderr).to.match(/--workers.*12/);
    const mode = await runCli(['kind', 'up', '--proxy-mode', 'ipvs'], { env: env() });
    expect(mode.code).to.equal(2);
    expect(mode.stderr).to.include('iptables, nftables');
    const config = join(dir, 'not-yaml.yaml');
    await writeFile(config, 'kind: [unclosed\n');
    const bad = await runCli(['kind', 'up', '--name', name, '--config', config], { env: env() });
    expect(bad.code, bad.stderr).to.equal(2);
    expect(bad.stderr).to.include(config);
    await nothingMade();
  });

  it('a cluster returnpath did not make: kind down exits 4 and says where to look', async () => {
    const r = await runCli(['kind', 'down', name], { env: env() });
    expect(r.code).to.equal(4);
    expect(r.stderr).to.include(`no kind cluster ${name} made by returnpath`);
    expect(r.stderr).to.include('returnpath kind list');
  });

  it('run --kind: bad input exits 2 naming the option, a machine without the kind components exits 3; nothing made', async () => {
    const results = join(dir, 'results');
    const both = await runCli(['run', '--kind', '--kubeconfig', join(dir, 'k'), '--results', results], {
      env: env(),
    });
    expect(both.code, both.stderr).to.equal(2);
    expect(both.stderr).to.include('with --kind the cluster is the one returnpath makes');
    for (const extra of [
      ['--cni', 'real'],
      ['--kube-proxy', 'real'],
      ['--cluster-topology', 'x.yaml'],
    ]) {
      const r = await runCli(['run', '--kind', ...extra, '--results', results], { env: env() });
      expect(r.code, `${extra.join(' ')}: ${r.stderr}`).to.equal(2);
      expect(r.stderr).to.include(`${extra[0]} ${extra[1]}`);
      expect(r.stderr).to.include('a kind run makes its own clusters');
    }
    const conc = await runCli(['run', '--kind', '--concurrency', '2', '--results', results], { env: env() });
    expect(conc.code).to.equal(2);
    expect(conc.stderr).to.include('one cell at a time');
    const none = await runCli(['run', '--kind', '--grep', 'no-such-cell', '--results', results], {
      env: env(),
    });
    expect(none.code).to.equal(2);
    const missing = await runCli(['run', '--kind', '--suite', 'baseline', '--results', results], {
      env: env(),
    });
    expect(missing.code, missing.stderr).to.equal(3);
    if (process.getuid?.() === 0) expect(missing.stderr).to.include('returnpath components build');
    expect(await readdir(results).catch(() => [])).to.deep.equal([]);
    await nothingMade();
  });
});
