/**
 * The README's exit-code table is the contract: this table of cases runs the built CLI for every
 * row (each row has cases, each case the code it must give), and checks that the README's table,
 * the global help and this table name the same codes. Cases that need the lab (root, the tools)
 * run it in their own results and state directories.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { labUnavailable } from '../lab/environment.js';
import { CLI, REPO, runCli, type CliResult } from './cli-test-support.js';
import { EXIT_CODES } from './main.js';

interface Case {
  /** What the case stands for in its row. */
  what: string;
  /** `lab`: the run id of a lab brought up for the case (withLab). */
  args: (t: Dirs, lab: string) => string[];
  /** A lab of its own is up while the case runs (its run id is passed to args). */
  withLab?: boolean;
  /** Needs root and the lab's tools. */
  lab?: boolean;
  /** The environment lacks the lab's tools (PATH holds node only). */
  noTools?: boolean;
  /** SIGINT to the command's process group once this holds. */
  interruptWhen?: (t: Dirs) => Promise<boolean>;
  /** More to check than the code. */
  check?: (r: CliResult, t: Dirs) => Promise<void> | void;
}

interface Dirs {
  tmp: string;
  state: string;
  results: string;
  nodeOnly: string;
}

const example = (name: string): string => `${REPO}examples/${name}.yaml`;
const sample = (name: string): string => `${REPO}samples/snapshots/${name}`;

const CASES: Record<number, Case[]> = {
  0: [
    { what: '--version', args: () => ['--version'] },
    { what: 'help run', args: () => ['help', 'run'] },
    { what: 'validate an example', args: () => ['validate', example('seed-003-baseline')] },
    { what: 'run --list', args: () => ['run', '--list', '--suite', 'nlb-hairpin'] },
    {
      what: 'run: every selected cell passed',
      lab: true,
      args: (t) => [
        'run',
        '--suite',
        'lb-snat-policy-routing',
        '--grep',
        'rp-1\\.fix-on\\.sdc-off:',
        '--results',
        t.results,
      ],
      check: (r) => void expect(r.stdout).to.match(/\[1\/1\] pass /),
    },
  ],
  1: [
    {
      what: 'certify: a path the profile requires is not supported (its cells failed)',
      lab: true,
      args: (t) => [
        'certify',
        sample('hardened-rp-filter-1'),
        '--cni',
        'vpc-cni-legacy',
        '--profile',
        'nlb-ip-targets',
        '--image',
        'ami-0example',
        '--results',
        t.results,
        '--run-id',
        'certify-1',
      ],
      check: async (r, t) => {
        expect(r.stdout).to.match(/^NOT CERTIFIED ami-0example /m);
        const cert = JSON.parse(await readFile(join(t.results, 'certify-1', 'certificate.json'), 'utf8')) as {
          image: { name: string };
          paths: { id: string; status: string }[];
        };
        expect(cert.image.name).to.equal('ami-0example');
        expect(cert.paths.find((p) => p.id === 'nlb-ip-secondary-eni')!.status).to.equal('unsupported');
      },
    },
  ],
  2: [
    { what: 'usage: an unexpected positional', args: () => ['run', 'nlb-hairpin'] },
    { what: 'usage: an unknown option', args: () => ['validate', example('seed-003-baseline'), '--strict'] },
    {
      what: 'usage: a value outside the allowed ones',
      args: () => ['certify', sample('systemd-default'), '--profile', 'some'],
    },
    { what: 'a missing topology file', args: (t) => ['validate', join(t.tmp, 'missing.yaml')] },
    { what: 'a directory for a topology file', args: (t) => ['validate', t.tmp] },
    { what: 'an empty topology file', args: (t) => ['validate', join(t.tmp, 'empty.yaml')] },
    {
      what: 'a binary topology file (shown as a printable excerpt only)',
      args: (t) => ['validate', join(t.tmp, 'binary.yaml')],
      check: (r) =>
        void expect([...r.stderr].filter((c) => c !== '\n' && (c < ' ' || c === '\x7f'))).to.deep.equal([]),
    },
    { what: 'a malformed topology', args: (t) => ['validate', join(t.tmp, 'bad.yaml')] },
    { what: 'a missing snapshot', args: (t) => ['certify', join(t.tmp, 'missing-snapshot')] },
    { what: 'a device as a snapshot', args: () => ['certify', '/dev/zero'] },
    {
      what: 'a missing baseline',
      args: (t) => ['run', '--grep', 'seed001', '--baseline', join(t.tmp, 'missing.json')],
    },
    {
      what: 'an unwritable --out',
      args: (t) => ['collect', '--out', join(t.tmp, 'no-such-dir', 'node.json')],
    },
    { what: '--grep matching no cell', args: () => ['run', '--grep', 'no-cell-has-this-title'] },
    {
      what: 'run --kubeconfig of a missing file',
      args: (t) => ['run', '--kubeconfig', join(t.tmp, 'missing-kubeconfig'), '--suite', 'baseline'],
      check: (r) => void expect(r.stderr).to.contain('no such file'),
    },
    {
      what: 'run --kubeconfig of a cluster that cannot be reached',
      args: (t) => ['run', '--kubeconfig', join(t.tmp, 'unreachable.kubeconfig'), '--suite', 'baseline'],
      check: (r) => void expect(r.stderr).to.match(/https:\/\/127\.0\.0\.1:9 .*cannot be reached/),
    },
    {
      what: 'run --kubeconfig with a context the file lacks',
      args: (t) => ['run', '--kubeconfig', join(t.tmp, 'unreachable.kubeconfig'), '--context', 'nope'],
      check: (r) => void expect(r.stderr).to.contain('--context nope: not in'),
    },
    {
      what: 'usage: --context without --kubeconfig',
      args: () => ['run', '--context', 'x', '--suite', 'baseline'],
    },
    {
      what: 'usage: --kube-proxy with --kubeconfig (the cluster runs its own)',
      args: (t) => ['run', '--kubeconfig', join(t.tmp, 'unreachable.kubeconfig'), '--kube-proxy', 'real'],
    },
    { what: 'usage: clean without --kubeconfig', args: () => ['clean'] },
    {
      what: 'a run id in use',
      args: (t) => ['run', '--grep', 'seed001', '--results', t.results, '--run-id', 'taken'],
    },
    {
      what: 'a sysctl the kernel refuses, at lab up',
      lab: true,
      args: (t) => ['lab', 'up', join(t.tmp, 'refused-sysctl.yaml')],
      check: (r) => void expect(r.stderr).to.match(/net\.core\.rmem_max/),
    },
  ],
  3: [
    { what: 'run without the lab tools', noTools: true, args: () => ['run', '--grep', 'seed001'] },
    {
      what: 'lab up without the lab tools',
      noTools: true,
      args: () => ['lab', 'up', example('seed-001-hairpin')],
    },
    { what: 'demo without the lab tools', noTools: true, args: () => ['demo'] },
  ],
  4: [
    { what: 'lab down of a run that does not exist', lab: true, args: () => ['lab', 'down', 'f0f0f0'] },
    { what: 'lab dump of a run that does not exist', lab: true, args: () => ['lab', 'dump', 'f0f0f0'] },
    {
      what: 'lab exec in a host the lab does not have',
      lab: true,
      withLab: true,
      args: (_t, lab) => ['lab', 'exec', lab, 'no-such-host', '--', 'true'],
      check: (r) => void expect(r.stderr).to.match(/no host "no-such-host" in this lab; hosts: /),
    },
  ],
  130: [
    {
      what: 'lab up interrupted (Ctrl-C to its process group)',
      lab: true,
      args: () => ['lab', 'up', example('seed-004-cross-zone')],
      interruptWhen: async (t) => (await readdir(t.state).catch(() => [])).some((f) => f.endsWith('.json')),
    },
  ],
};

function start(args: string[], env: NodeJS.ProcessEnv, when: () => Promise<boolean>): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<CliResult>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  void (async () => {
    while (child.exitCode === null && !(await when())) await sleep(5);
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGINT');
  })();
  return done;
}

describe('exit codes: the README table, row by row (the built CLI)', function () {
  this.timeout(600_000);
  const t = {} as Dirs;
  let labRun: string | undefined;

  before(async () => {
    t.tmp = await mkdtemp(join(tmpdir(), 'rp-exit-'));
    t.state = join(t.tmp, 'state');
    t.results = join(t.tmp, 'results');
    t.nodeOnly = join(t.tmp, 'node-only');
    await mkdir(t.nodeOnly);
    await symlink(process.execPath, join(t.nodeOnly, 'node'));
    await writeFile(join(t.tmp, 'empty.yaml'), '');
    // Port 9 (discard) on loopback: nothing listens there.
    await writeFile(
      join(t.tmp, 'unreachable.kubeconfig'),
      stringifyYaml({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          { name: 'c', cluster: { server: 'https://127.0.0.1:9', 'insecure-skip-tls-verify': true } },
        ],
        users: [{ name: 'u', user: { token: 'x' } }],
        contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'ctx',
      }),
    );
    await writeFile(
      join(t.tmp, 'binary.yaml'),
      Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 0, 0, 0x1b, 0x5b, 0x32, 0x4a, 7]),
    );
    await writeFile(
      join(t.tmp, 'bad.yaml'),
      'apiVersion: returnpath/v1\nkind: Topology\nmetadata: {name: x}\n',
    );
    // Seed 001 with a key the kernel does not keep per network namespace on its first node.
    const seed = parseYaml(await readFile(example('seed-001-hairpin'), 'utf8')) as {
      nodes: Record<string, unknown>[];
    };
    seed.nodes[0]!['sysctls'] = { other: { 'net.core.rmem_max': 1 } };
    await writeFile(join(t.tmp, 'refused-sysctl.yaml'), stringifyYaml(seed));
    await mkdir(join(t.results, 'taken'), { recursive: true });
    await writeFile(join(t.results, 'taken', 'results.json'), '{}');
  });
  after(async () => {
    if (labRun)
      await runCli(['lab', 'down', labRun, '--force'], {
        env: { ...process.env, RETURNPATH_STATE_DIR: t.state },
      });
    if (t.tmp) await rm(t.tmp, { recursive: true, force: true });
  });

  it('the README table, the global help and this test name the same codes, with the same meanings', async () => {
    const readme = await readFile(join(REPO, 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| (\d+) +\| (.+?) +\|$/gm)].map((m) => ({
      code: Number(m[1]),
      meaning: m[2],
    }));
    expect(rows).to.deep.equal(EXIT_CODES.map((e) => ({ code: e.code, meaning: e.meaning })));
    expect(Object.keys(CASES).map(Number)).to.deep.equal(EXIT_CODES.map((e) => e.code));
    const help = await runCli(['--help']);
    for (const e of EXIT_CODES) expect(help.stdout).to.match(new RegExp(`^ +${e.code}  \\S`, 'm'));
  });

  for (const [code, cases] of Object.entries(CASES))
    for (const c of cases)
      it(`${code}: ${c.what}`, async function () {
        if (c.lab) {
          const why = labUnavailable();
          if (why) {
            console.log(`      skipped: ${why}`);
            this.skip();
          }
        }
        const env: NodeJS.ProcessEnv = { ...process.env, RETURNPATH_STATE_DIR: t.state };
        if (c.noTools) env['PATH'] = t.nodeOnly;
        if (c.withLab) {
          const up = await runCli(['lab', 'up', example('seed-001-hairpin')], { env });
          expect(up.code, up.stderr).to.equal(0);
          labRun = /^run ([0-9a-f]{6}):/.exec(up.stdout)![1]!;
        }
        const args = c.args(t, labRun ?? '');
        const r = c.interruptWhen
          ? await start(args, env, () => c.interruptWhen!(t))
          : await runCli(args, { env, timeoutMs: 590_000 });
        expect(r.code, `returnpath ${args.join(' ')}\n${r.stdout}${r.stderr}`).to.equal(Number(code));
        if (Number(code) >= 2 && Number(code) <= 4) {
          expect(r.stderr).to.match(/^returnpath: /);
          expect(r.stderr, 'no stack trace').not.to.match(/\n\s+at /);
        }
        await c.check?.(r, t);
        if (labRun) {
          const down = await runCli(['lab', 'down', labRun], { env });
          expect(down.code, down.stderr).to.equal(0);
          labRun = undefined;
        }
        // Nothing of this case is left: no lab recorded in its state directory.
        expect((await readdir(t.state).catch(() => [])).filter((f) => f.endsWith('.json'))).to.deep.equal([]);
      });
});
