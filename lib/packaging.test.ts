/**
 * The package as npm installs it: the Node versions it declares (and the README names) are ones
 * every runtime dependency runs on, each runtime dependency imports, and the CLI (with the suites
 * `returnpath run` loads) imports nothing but runtime dependencies and Node's own modules.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; dev?: boolean; engines?: { node?: string } | string[] }>;
};
const readme = readFileSync(join(REPO, 'README.md'), 'utf8');

/** The Node version the README names for the quick start (`Node.js 20.19 or later`): its major. */
function readmeNodeMajor(): number {
  const m = /Node\.js (\d+)(?:\.(\d+))?/.exec(readme);
  if (!m) throw new Error('the README names no Node.js version');
  return Number(m[1]);
}

describe('packaging', () => {
  it('the README names a Node version package.json accepts, and package.json declares no older one', () => {
    const major = readmeNodeMajor();
    const min = semver.minVersion(pkg.engines.node)!;
    expect(min.major, `engines.node ${pkg.engines.node}`).to.equal(major);
    expect(readme).to.contain(`Node.js ${major}.${min.minor} or later`);
  });

  it('every runtime package (the tree `npm install --omit=dev` installs) runs on every Node engines.node allows', () => {
    const runtime = Object.entries(lock.packages).filter(([path, p]) => path !== '' && !p.dev);
    expect(runtime.map(([path]) => path)).to.include.members(
      Object.keys(pkg.dependencies).map((d) => `node_modules/${d}`),
    );
    const refused = runtime.flatMap(([path, p]) => {
      const range = !Array.isArray(p.engines) ? p.engines?.node : undefined;
      return range && !semver.subset(pkg.engines.node, range, { includePrerelease: false })
        ? [`${path.replace(/^.*node_modules\//, '')}@${p.version} needs node ${range}`]
        : [];
    });
    expect(refused, `engines.node ${pkg.engines.node}`).to.deep.equal([]);
  });

  it('every runtime dependency imports on the Node version the README names', function () {
    const major = readmeNodeMajor();
    if (Number(process.versions.node.split('.')[0]) !== major) {
      console.log(
        `      skipped: this is Node ${process.version}; the README names Node ${major}: run on it`,
      );
      this.skip();
    }
    expect(semver.satisfies(process.versions.node, pkg.engines.node)).to.equal(true);
    // One process imports each in turn (a failure does not hide the others).
    const script = `for (const dep of ${JSON.stringify(Object.keys(pkg.dependencies))}) {
      try { await import(dep); console.log('ok ' + dep); }
      catch (e) { console.log('FAIL ' + dep + ': ' + String(e && e.message).split('\\n')[0]); }
    }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim().split('\n')).to.deep.equal(Object.keys(pkg.dependencies).map((d) => `ok ${d}`));
  });

  it('the CLI and the suite specs `run` loads import only runtime dependencies (mocha and chai are)', async () => {
    const dist = join(REPO, 'dist');
    const roots = [join(dist, 'lib/cli/main.js')];
    const catalog = await import(join(dist, 'suites/catalog.js'));
    for (const s of catalog.SUITES as { id: string }[])
      roots.push(join(dist, 'suites', catalog.specFile(s.id)));
    roots.push(join(dist, 'suites/dynamic.spec.js'));
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const runtime = new Set(Object.keys(pkg.dependencies));
    const seen = new Set<string>();
    const bare = new Map<string, string>();
    const queue = [...roots];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const text = await readFile(file, 'utf8');
      // Static imports and re-exports, and dynamic import() of a literal.
      for (const m of text.matchAll(
        /(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g,
      )) {
        const spec = (m[1] ?? m[2])!;
        if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec));
        else if (!builtins.has(spec)) bare.set(spec, relative(REPO, file));
      }
    }
    expect(seen.size).to.be.greaterThan(50);
    const packageOf = (spec: string): string =>
      spec
        .split('/')
        .slice(0, spec.startsWith('@') ? 2 : 1)
        .join('/');
    const notRuntime = [...bare]
      .filter(([spec]) => !runtime.has(packageOf(spec)))
      .map(([s, f]) => `${s} (${f})`);
    expect(notRuntime).to.deep.equal([]);
    expect([...bare.keys()].map(packageOf)).to.include.members(['mocha', 'chai']);
    for (const dev of Object.keys(pkg.devDependencies)) expect(runtime.has(dev), dev).to.equal(false);
  });
});
