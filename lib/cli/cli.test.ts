/** The CLI as a user meets it: spawned from bin/returnpath.js after the build. */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, runCli } from './cli-test-support.js';
import { COMMANDS } from './main.js';

const names = COMMANDS.flatMap((c) => ('commands' in c ? c.commands.map((d) => d.name) : [c.name]));

describe('returnpath (the command line)', function () {
  this.timeout(120_000);

  it('--version prints the package version and the commit the build was made from', async () => {
    const r = await runCli(['--version']);
    expect(r.code, r.stderr).to.equal(0);
    const { version } = JSON.parse(readFileSync(`${REPO}package.json`, 'utf8')) as { version: string };
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    expect(r.stdout).to.match(new RegExp(`^returnpath ${version.replace(/\./g, '\\.')} \\(commit ${head}`));
  });

  it('every command answers -h and --help with its own usage, exit 0, and runs nothing', async () => {
    expect(names).to.include.members([
      'run',
      'collect',
      'certify',
      'demo',
      'validate',
      'lab up',
      'lab clean',
    ]);
    for (const name of names)
      for (const flag of ['-h', '--help']) {
        const r = await runCli([...name.split(' '), flag]);
        expect(r.code, `${name} ${flag}: ${r.stderr}`).to.equal(0);
        expect(r.stdout, `${name} ${flag}`).to.match(new RegExp(`^usage: returnpath ${name}\\b`));
        expect(r.stdout).to.contain('-h, --help');
      }
  });

  it("`help CMD` prints that command's usage; `help` and --help the global one", async () => {
    const run = await runCli(['help', 'run']);
    expect(run.code).to.equal(0);
    expect(run.stdout).to.match(/^usage: returnpath run /);
    expect(run.stdout).to.contain('--baseline OLD/results.json');
    const labUp = await runCli(['help', 'lab', 'up']);
    expect(labUp.stdout).to.match(/^usage: returnpath lab up \[FILE\]/);
    const lab = await runCli(['help', 'lab']);
    expect(lab.stdout).to.match(/^usage: returnpath lab COMMAND/);
    for (const argv of [['help'], ['--help'], ['-h']]) {
      const r = await runCli(argv);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.match(/^returnpath: chaos and conformance/);
      expect(r.stdout).to.contain('exit codes:');
    }
    const bad = await runCli(['help', 'nope']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/nope.*is not a command/s);
  });

  it('rejects unknown options and unexpected positionals with exit 2, naming them (nothing runs)', async () => {
    for (const [argv, re] of [
      [['run', 'nlb-hairpin'], /nlb-hairpin.*unexpected argument: run takes no positional arguments/s],
      [['run', '--colour'], /--colour.*unknown option; allowed: --file SUITE.yaml, --suite/s],
      [['demo', 'extra'], /extra.*unexpected argument/s],
      [['validate', 'a.yaml', 'b.yaml'], /b\.yaml.*unexpected argument: validate takes FILE/s],
      [['validate'], /needs FILE/],
      [['lab', 'down', 'abcdef', 'more'], /more.*unexpected argument/s],
      [['lab', 'list', '--all'], /--all.*unknown option/s],
      [['lab', 'frob'], /frob.*expected a command: up, exec, probe, dump, down, list, clean/s],
      [['certify', 'x.json', '--cni', 'calico'], /--cni calico.*allowed: vpc-cni, vpc-cni-legacy/s],
      [['frobnicate'], /frobnicate.*is not a command/s],
      [['--version', 'x'], /takes no arguments/],
    ] as const) {
      const r = await runCli(argv);
      expect(r.code, `${argv.join(' ')}: ${r.stdout}${r.stderr}`).to.equal(2);
      expect(r.stderr, argv.join(' ')).to.match(re);
      expect(r.stderr, argv.join(' ')).to.match(/usage: `returnpath .*--help`/);
      expect(r.stderr).not.to.match(/\n\s+at /);
    }
  });

  it('with no arguments prints the global help to stderr and exits 2', async () => {
    const r = await runCli([]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/^returnpath: chaos and conformance/);
  });

  it('run --run-id of an earlier run is refused (exit 2) before anything runs, its results untouched', async () => {
    const root = await mkdtemp(join(tmpdir(), 'rp-runid-'));
    try {
      await mkdir(join(root, 'ci-1'));
      await writeFile(join(root, 'ci-1', 'results.json'), '{"earlier": true}');
      const r = await runCli(['run', '--grep', 'seed001', '--results', root, '--run-id', 'ci-1']);
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.match(/--run-id.*is in use: .*ci-1 holds an earlier run's results.*--force/s);
      expect(await readFile(join(root, 'ci-1', 'results.json'), 'utf8')).to.equal('{"earlier": true}');
      expect(await readdir(join(root, 'ci-1'))).to.deep.equal(['results.json']);
      const bad = await runCli(['run', '--grep', 'seed001', '--results', root, '--run-id', '../escape']);
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.match(/--run-id.*must be 1-64 letters/s);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
