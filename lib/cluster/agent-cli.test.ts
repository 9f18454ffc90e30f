import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { expect } from 'chai';
import { REPO, runProgram } from '../cli/cli-test-support.js';
import { parseServeArgs } from '../traffic/serve-cli.js';
import { AGENT_USAGE, parseAgentArgs, READY_LINE, serverName } from './agent-cli.js';

const AGENT = `${REPO}bin/returnpath-agent.js`;
const parse = (args: string[]) => parseAgentArgs(args, parseServeArgs);

describe('returnpath-agent arguments', () => {
  it('knows its subcommands', () => {
    expect(parse(['hold'])).to.deep.equal({ cmd: 'hold' });
    expect(parse(['worker'])).to.deep.equal({ cmd: 'worker' });
    expect(parse(['version'])).to.deep.equal({ cmd: 'version' });
    expect(parse(['serve', 'http', '8080'])).to.deep.equal({ cmd: 'serve', kind: 'http', port: 8080 });
    expect(parse(['serve', 'udp', '53'])).to.deep.equal({ cmd: 'serve', kind: 'udp', port: 53 });
    expect(parse(['probe', 'tcp', '10.0.0.1', '80', '--json'])).to.deep.equal({
      cmd: 'probe',
      args: ['tcp', '10.0.0.1', '80', '--json'],
    });
  });

  it('names the bad argument and what is allowed', () => {
    expect(parse([])).to.deep.equal({ cmd: 'usage', error: 'missing command' });
    expect(parse(['sleep'])).to.deep.equal({ cmd: 'usage', error: 'unknown command "sleep"' });
    expect(parse(['hold', 'x'])).to.deep.equal({ cmd: 'usage', error: 'hold takes no arguments (got x)' });
    expect(parse(['serve', 'sctp', '80'])).to.deep.equal({
      cmd: 'usage',
      error: 'serve: KIND "sctp": must be tcp, http or udp',
    });
    expect(parse(['serve', 'tcp'])).to.deep.equal({
      cmd: 'usage',
      error: 'serve: PORT (missing): must be an integer from 1 to 65535',
    });
    for (const port of ['0', '65536', '8o', '-1', '1.5'])
      expect(parse(['serve', 'tcp', port])).to.deep.equal({
        cmd: 'usage',
        error: `serve: PORT "${port}": must be an integer from 1 to 65535`,
      });
    expect(parse(['serve', 'tcp', '80', 'x'])).to.deep.equal({
      cmd: 'usage',
      error: 'serve takes KIND PORT (got tcp 80 x)',
    });
  });

  it("names its server after the pod (HOSTNAME), else the machine's hostname", () => {
    expect(serverName({ HOSTNAME: 'web-1' })).to.equal('web-1');
    expect(serverName({})).to.be.a('string').and.not.equal('');
  });
});

describe('returnpath-agent (the built entry point)', () => {
  it('prints its version; exits 2 with the usage on a bad command line', async () => {
    const v = await runProgram(process.execPath, [AGENT, 'version']);
    expect(v.code, v.stderr).to.equal(0);
    expect(v.stdout).to.match(/^returnpath-agent \d+\.\d+\.\d+ \(/);
    const bad = await runProgram(process.execPath, [AGENT, 'serve', 'tcp', '70000']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('PORT "70000": must be an integer from 1 to 65535');
    expect(bad.stderr).to.contain(AGENT_USAGE);
  });

  it('hold: says it is ready, exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [AGENT, 'hold'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = await new Promise<string>((resolve) =>
      child.stdout.once('data', (d: Buffer) => resolve(String(d))),
    );
    expect(out).to.contain(READY_LINE);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).to.equal(0);
  });

  it('serve tcp PORT: prints the ready line, answers with the pod name, exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [AGENT, 'serve', 'tcp', String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOSTNAME: 'agent-test-pod' },
    });
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.once('data', (d: Buffer) => resolve(String(d)));
      child.once('exit', (c) => reject(new Error(`exited ${c}`)));
    });
    expect(line.trim()).to.equal(`listening agent-test-pod ${port}`);
    const answer = await new Promise<string>((resolve, reject) => {
      let got = '';
      const s = createConnection({ host: '127.0.0.1', port });
      s.on('data', (d) => {
        got += String(d);
        if (got.includes('\n')) {
          s.destroy();
          resolve(got);
        }
      });
      s.on('error', reject);
    });
    expect(answer).to.contain('agent-test-pod');
    child.kill('SIGTERM');
    expect(await new Promise((resolve) => child.once('exit', resolve))).to.equal(0);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
