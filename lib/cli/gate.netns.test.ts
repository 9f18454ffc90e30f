/**
 * Integration: the CI gate of docs/github-actions-gate.yml, step by step, on this machine. The
 * base is the pinned VPC CNI's source (from the Go module cache); the head is a copy with one
 * deliberate regression: rule 1536 restricted to the VPC CIDRs without external SNAT, as the
 * legacy CNI did. Both are built with `components build vpc-cni --source --out`, the eni-rp-filter
 * cells run with each (`--cni-bin`), and the gate (`--baseline`) must exit 1 naming exactly the
 * cells the legacy rule breaks, and exit 0 for the unchanged build.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { cp, chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { goEnv } from '../components/go-module.js';
import { VERSIONS } from '../components/versions.js';
import { requireLab } from '../lab/test-support.js';
import { eniRpFilterSuite } from '../../suites/eni-rp-filter.cells.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const VPC_CNI = 'github.com/aws/amazon-vpc-cni-k8s';

interface Ran {
  code: number | null;
  out: string;
}

function run(argv: string[], cwd = repo): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd, env: goEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

const returnpath = (...args: string[]): Promise<Ran> =>
  run([process.execPath, join(repo, 'bin/returnpath.js'), ...args]);

/** Replaces `from` by `to` in a file, once; fails when the anchor is not there (upstream moved). */
async function patch(file: string, from: string, to: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  if (!text.includes(from)) throw new Error(`${file}: patch anchor not found: ${from.slice(0, 80)}`);
  await writeFile(file, text.replace(from, to));
}

/**
 * The regression: the plugin writes `from <pod> to <cidr> lookup <table>` for every VPC CIDR ipamd
 * sends (unless external SNAT is on) instead of one `from <pod> lookup <table>`: v1.7's rule 1536.
 */
async function regress(src: string): Promise<void> {
  await patch(
    join(src, 'cmd/routed-eni-cni-plugin/cni.go'),
    '\tlog.Infof("Received add network response from ipamd',
    '\tif !r.UseExternalSNAT {\n\t\tdriver.RegressionVPCCIDRs = r.VPCv4CIDRs\n\t}\n\tlog.Infof("Received add network response from ipamd',
  );
  const driver = join(src, 'cmd/routed-eni-cni-plugin/driver/driver.go');
  await patch(
    driver,
    '\tif rtTable != unix.RT_TABLE_MAIN {\n\t\tfromContainerRule := n.netLink.NewRule()\n\t\tfromContainerRule.Src = containerAddr\n\t\tfromContainerRule.Priority = networkutils.FromPodRulePriority\n\t\tfromContainerRule.Table = rtTable\n\t\tif err := n.netLink.RuleAdd(fromContainerRule)',
    '\tfor _, cidr := range RegressionVPCCIDRs {\n\t\t_, dst, _ := net.ParseCIDR(cidr)\n\t\tr := n.netLink.NewRule()\n\t\tr.Src = containerAddr\n\t\tr.Dst = dst\n\t\tr.Priority = networkutils.FromPodRulePriority\n\t\tr.Table = rtTable\n\t\tif err := n.netLink.RuleAdd(r); err != nil && !networkutils.IsRuleExistsError(err) {\n\t\t\treturn err\n\t\t}\n\t}\n\tif rtTable != unix.RT_TABLE_MAIN && len(RegressionVPCCIDRs) == 0 {\n\t\tfromContainerRule := n.netLink.NewRule()\n\t\tfromContainerRule.Src = containerAddr\n\t\tfromContainerRule.Priority = networkutils.FromPodRulePriority\n\t\tfromContainerRule.Table = rtTable\n\t\tif err := n.netLink.RuleAdd(fromContainerRule)',
  );
  await patch(
    driver,
    'func (n *linuxNetwork) setupIPBasedContainerRouteRules(',
    '// RegressionVPCCIDRs: returnpath gate test only.\nvar RegressionVPCCIDRs []string\n\nfunc (n *linuxNetwork) setupIPBasedContainerRouteRules(',
  );
}

describe('CI gate: a VPC CNI change built from source, gated with --baseline (docs/github-actions-gate.yml)', function () {
  this.timeout(30 * 60_000);
  let dir: string;

  before(async function () {
    requireLab(this);
    const go = await run(['go', 'env', 'GOVERSION']).catch(() => ({ code: null, out: '' }));
    if (go.code !== 0) {
      console.log('      skipped: no Go toolchain (install Go 1.26.6 or newer)');
      this.skip();
    }
    dir = await mkdtemp(join(tmpdir(), 'rp-gate-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('fails on the regressed build naming the eni-rp-filter cells it breaks, passes on the pinned one', async () => {
    // The pinned version's source, as a checkout would hold it (the module cache's copy is read-only).
    const dl = await run(['go', 'mod', 'download', '-json', `${VPC_CNI}@${VERSIONS.vpcCni}`], dir);
    expect(dl.code, dl.out).to.equal(0);
    const src = (JSON.parse(dl.out) as { Dir: string }).Dir;
    for (const side of ['base', 'head']) {
      await cp(src, join(dir, side), { recursive: true });
      await run(['chmod', '-R', 'u+w', join(dir, side)]);
    }
    await chmod(join(dir, 'head'), 0o755);
    await regress(join(dir, 'head'));

    for (const side of ['base', 'head']) {
      const b = await returnpath(
        'components',
        'build',
        'vpc-cni',
        '--source',
        join(dir, side),
        '--out',
        join(dir, `${side}-build`),
      );
      expect(b.code, b.out).to.equal(0);
    }
    const results = join(dir, 'results');
    // One cell at a time: the 250 ms connect deadline must not meet the test's own load.
    const cells = ['--suite', 'eni-rp-filter', '--grep', 'vpc-cni\\.snat-cni', '--concurrency', '1'];
    const base = await returnpath(
      'run',
      ...cells,
      '--cni-bin',
      join(dir, 'base-build'),
      '--run-id',
      'base',
      '--results',
      results,
    );
    expect(base.code, base.out).to.equal(0);
    const baseline = join(results, 'base', 'results.json');

    const head = await returnpath(
      'run',
      ...cells,
      '--cni-bin',
      join(dir, 'head-build'),
      '--run-id',
      'head',
      '--results',
      results,
      '--baseline',
      baseline,
    );
    expect(head.code, head.out).to.equal(1);
    const regressed = [...head.out.matchAll(/^\s*regression\s+(eni-rp-filter\/\S+)/gm)]
      .map((m) => m[1])
      .sort();
    // Exactly the cells where the legacy CNI's rule breaks the path (the suite's own prediction).
    const expected = eniRpFilterSuite.cells
      .filter((c) => c.id.startsWith('vpc-cni-legacy.snat-cni.rp-') && /\.rp-\d\./.test(c.id) && !c.pathWorks)
      .map((c) => `eni-rp-filter/${c.id.replace('vpc-cni-legacy.', 'vpc-cni.')}`)
      .sort();
    expect(expected.length).to.be.greaterThan(0);
    expect(regressed, head.out).to.deep.equal(expected);
    const res = JSON.parse(await readFile(join(results, 'head', 'results.json'), 'utf8')) as {
      cells: { implementation?: { cni: string } }[];
    };
    expect(res.cells[0]!.implementation?.cni).to.match(
      /^real vpc-cni source .*\/head \(build .*head-build\)$/,
    );

    const again = await returnpath(
      'run',
      ...cells,
      '--cni-bin',
      join(dir, 'base-build'),
      '--run-id',
      'again',
      '--results',
      results,
      '--baseline',
      baseline,
    );
    expect(again.code, again.out).to.equal(0);
    expect(again.out).to.match(/0 regression\(s\)/);
  });
});
