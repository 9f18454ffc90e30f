import { expect } from 'chai';
import { commandUsage, parseCommandLine, synopsis, UsageError, type CommandDecl } from './command.js';

const decl: CommandDecl = {
  name: 'thing do',
  summary: 'does a thing',
  positionals: [
    { name: 'FILE', help: 'the file' },
    { name: 'HOST', help: 'a host', optional: true },
  ],
  options: [
    { name: 'mode', value: 'M', choices: ['fast', 'slow'], help: 'how' },
    { name: 'count', value: 'N', help: 'how many' },
    { name: 'all', help: 'everything' },
  ],
  run: async () => 0,
};

function args(argv: string[]) {
  const p = parseCommandLine(decl, argv);
  if (p.help) throw new Error('help');
  return p.args;
}

function usageError(argv: string[], d: CommandDecl = decl): UsageError {
  try {
    parseCommandLine(d, argv);
  } catch (e) {
    expect(e).to.be.instanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error(`expected a UsageError for ${argv.join(' ')}`);
}

describe('cli/command (the shared parser)', () => {
  it('parses positionals, --key value, --key=value and flags', () => {
    const a = args(['f.yaml', '--mode', 'fast', '--count=3', '--all', 'node-a']);
    expect(a.positional('FILE')).to.equal('f.yaml');
    expect(a.positional('HOST')).to.equal('node-a');
    expect(a.string('mode')).to.equal('fast');
    expect(a.int('count', 1, 5)).to.equal(3);
    expect(a.flag('all')).to.equal(true);
    expect(args(['f.yaml']).positional('HOST')).to.equal(undefined);
  });

  it('answers -h and --help anywhere before --, whatever else is on the line', () => {
    for (const argv of [['-h'], ['--help'], ['f.yaml', '--bogus', '--help'], ['--mode', 'x', '-h']])
      expect(parseCommandLine(decl, argv), argv.join(' ')).to.deep.equal({ help: true });
  });

  it('rejects unknown options, naming them and what is allowed', () => {
    const e = usageError(['f.yaml', '--colour']);
    expect(e.problems[0]!.value).to.equal('--colour');
    expect(e.problems[0]!.message).to.match(/unknown option; allowed: --mode M, --count N, --all/);
    expect(usageError(['f.yaml', '-x']).problems[0]!.message).to.match(/unknown option/);
  });

  it('rejects unexpected and missing positionals', () => {
    const extra = usageError(['a', 'b', 'c']);
    expect(extra.problems[0]!.value).to.equal('c');
    expect(extra.problems[0]!.message).to.match(/unexpected argument: thing do takes FILE \[HOST\]/);
    expect(usageError([]).problems[0]!.message).to.match(/needs FILE \(the file\)/);
    const none: CommandDecl = { name: 'bare', summary: 's', run: async () => 0 };
    expect(usageError(['x'], none).problems[0]!.message).to.match(/takes no positional arguments/);
  });

  it('rejects values outside the allowed ones, repeated options, values on flags, missing values', () => {
    expect(usageError(['f', '--mode', 'medium']).problems[0]!.message).to.match(/allowed: fast, slow/);
    expect(usageError(['f', '--all', '--all']).problems[0]!.message).to.match(/more than once/);
    expect(usageError(['f', '--all=yes']).problems[0]!.message).to.match(/takes no value/);
    expect(usageError(['f', '--count']).problems[0]!.message).to.match(/needs a value: --count N/);
    expect(usageError(['f', '--count', '--all']).problems[0]!.message).to.match(/write --count=--all/);
    expect(() => args(['f', '--count', '9']).int('count', 1, 5)).to.throw(UsageError, /from 1 to 5/);
  });

  it('takes argv after -- only when the command declares it', () => {
    expect(usageError(['f', '--', 'ls']).problems[0]!.message).to.match(/takes nothing after --/);
    const exec: CommandDecl = {
      name: 'exec',
      summary: 's',
      positionals: [{ name: 'HOST', help: 'h' }],
      rest: { name: 'CMD...', help: 'the command' },
      run: async () => 0,
    };
    const p = parseCommandLine(exec, ['h1', '--', 'ip', '--help', '-x']);
    expect(p.help === false && p.args.rest).to.deep.equal(['ip', '--help', '-x']);
    expect(usageError(['h1'], exec).problems[0]!.message).to.match(/needs -- CMD\.\.\./);
  });

  it('refuses to read an option or positional the command did not declare (a programming error)', () => {
    expect(() => args(['f']).string('nope')).to.throw(/does not declare/);
    expect(() => args(['f']).positional('NOPE')).to.throw(/does not declare/);
  });

  it('generates the usage: synopsis, arguments, options with their allowed values, -h', () => {
    expect(synopsis(decl)).to.equal('returnpath thing do FILE [HOST] [--mode M] [--count N] [--all]');
    const u = commandUsage(decl);
    expect(u).to.match(/^usage: returnpath thing do FILE \[HOST\]/);
    expect(u).to.contain('does a thing');
    expect(u).to.match(/--mode M\s+how \(one of: fast, slow\)/);
    expect(u).to.match(/-h, --help\s+print this usage and exit/);
  });
});
