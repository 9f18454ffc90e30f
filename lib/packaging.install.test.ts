/**
 * The package as a user installs it: `npm pack`, then the tarball installed into an empty folder
 * (only its runtime dependencies, from the registry), and `npm link` as the quick start does. The
 * installed `returnpath` answers --version (with the commit it was built from), validates an
 * example, lists cells, and (as root) runs a cell: mocha and chai come with it.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { REPO, runProgram } from './cli/cli-test-support.js';
import { labUnavailable } from './lab/environment.js';

function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync('npm', args, {
    cwd,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 900_000,
  });
}

describe('packaging: npm pack, installed into an empty folder', function () {
  this.timeout(1_200_000);
  let tmp: string;
  let tarball: string;
  let files: string[];
  const built = JSON.parse(readFileSync(join(REPO, 'dist/build-info.json'), 'utf8')) as {
    version: string;
    commit: string | null;
  };

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'rp-pack-'));
    // The build is the one `npm test` just made (--ignore-scripts: `prepare` would rebuild it).
    const [packed] = JSON.parse(
      npm(['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], REPO),
    ) as { filename: string; files: { path: string }[] }[];
    tarball = join(tmp, packed!.filename);
    files = packed!.files.map((f) => f.path);
  });
  after(async () => tmp && rm(tmp, { recursive: true, force: true }));

  it('packs the built CLI, its suites, schemas, examples and Go helper sources, and no tests', () => {
    expect(files).to.include.members([
      'bin/returnpath.js',
      'bin/returnpath-agent.js',
      'dist/lib/cluster/agent-cli.js',
      'dist/build-info.json',
      'dist/lib/cli/main.js',
      'dist/suites/catalog.js',
      'dist/suites/baseline.spec.js',
      'dist/lib/traffic/worker.js',
      'schemas/results.schema.json',
      'examples/seed-003-baseline.yaml',
      // `components build` compiles returnpath's own Go helpers from these sources.
      'lib/components/go/vpc-cni-node/main.go',
      'lib/components/go/cni-exec/main.go',
      'package.json',
      'README.md',
    ]);
    // No sources but the Go helpers' (`components build` compiles them on the user's machine).
    expect(files).to.include('lib/components/go/cni-exec/main.go');
    expect(
      files.filter(
        (f) => /\.test\.js$|\.ts$|^lib\/|node_modules/.test(f) && !f.startsWith('lib/components/go/'),
      ),
    ).to.deep.equal([]);
    expect(files).to.include.members([
      'suites/baseline.suite.yaml',
      'suites/cross-zone-collision.suite.yaml',
    ]);
  });

  it('installs into an empty folder and works: --version, validate, run --list, a cell as root', async () => {
    const app = join(tmp, 'app');
    await mkdir(app);
    npm(['install', '--no-audit', '--no-fund', '--omit=dev', tarball], app);
    const bin = join(app, 'node_modules', '.bin');
    // As a user runs it: the bare name on PATH.
    const env = { ...process.env, PATH: `${bin}${delimiter}${process.env['PATH'] ?? ''}` };
    const run = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      runProgram('returnpath', args, { cwd: app, env: { ...env, ...extra }, timeoutMs: 300_000 });

    const version = await run(['--version']);
    expect(version.code, version.stderr).to.equal(0);
    expect(version.stdout).to.contain(`returnpath ${built.version} (commit ${built.commit ?? 'unknown'}`);
    // The agent image's entry point, installed as a command of its own.
    const agent = await runProgram('returnpath-agent', ['version'], { cwd: app, env });
    expect(agent.code, agent.stderr).to.equal(0);
    expect(agent.stdout).to.contain(`returnpath-agent ${built.version}`);

    const example = join(app, 'node_modules/returnpath/examples/seed-003-baseline.yaml');
    const validate = await run(['validate', example]);
    expect(validate.code, validate.stderr).to.equal(0);
    expect(validate.stdout).to.match(/: ok — \d+ nodes/);

    const list = await run(['run', '--list', '--suite', 'nlb-hairpin']);
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout).to.match(/^\d+ cells$/m);

    // mocha (the suites are mocha specs) is installed with it, not only with the dev dependencies.
    const installed = JSON.parse(
      await readFile(join(app, 'node_modules/returnpath/package.json'), 'utf8'),
    ) as {
      dependencies: Record<string, string>;
    };
    expect(installed.dependencies).to.have.property('mocha');
    if (labUnavailable()) return;
    const results = join(tmp, 'results');
    const cell = await run(
      [
        'run',
        '--suite',
        'lb-snat-policy-routing',
        '--grep',
        'rp-1\\.fix-on\\.sdc-off:',
        '--results',
        results,
      ],
      { RETURNPATH_STATE_DIR: join(tmp, 'state') },
    );
    expect(cell.code, cell.stdout + cell.stderr).to.equal(0);
    expect(cell.stdout).to.match(/\[1\/1\] pass lb-snat-policy-routing\/rp-1\.fix-on\.sdc-off/);
  });

  it('npm link (the quick start) puts `returnpath` on PATH', async () => {
    const prefix = join(tmp, 'global');
    npm(['link', '--no-audit', '--no-fund', '--ignore-scripts'], REPO, {
      ...process.env,
      npm_config_prefix: prefix,
    });
    const r = await runProgram('returnpath', ['--version'], {
      env: { ...process.env, PATH: `${join(prefix, 'bin')}${delimiter}${process.env['PATH'] ?? ''}` },
    });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^returnpath \d+\.\d+\.\d+ \(commit /);
  });
});
