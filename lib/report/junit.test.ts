import { expect } from 'chai';
import { renderJunit } from './junit.js';
import { escapeXml, escapeXmlAttribute } from './escape.js';
import { chaosCell, expectGolden, rpFilterCell, sampleRun } from './test-helpers.js';

describe('JUnit report', () => {
  it('renders the sample run as before (golden)', async () => {
    await expectGolden('junit.xml', renderJunit(sampleRun()));
  });

  it('records where the results came from: returnpath version and commit, kernel, run', () => {
    const xml = renderJunit(sampleRun());
    for (const [name, value] of [
      ['returnpath.version', '0.1.0'],
      ['returnpath.commit', '0123456789abcdef0123456789abcdef01234567'],
      ['kernel', '6.8.0-45-generic'],
    ])
      expect(xml).to.contain(`<property name="${name}" value="${value}"/>`);
    const older = { ...sampleRun(), returnpath: undefined };
    expect(renderJunit(older)).to.contain('<property name="returnpath.version" value="unknown"/>');
  });

  it('counts fail and inconclusive as failures and error as errors', () => {
    const xml = renderJunit(sampleRun());
    expect(xml).to.contain(
      '<testsuites name="returnpath" tests="9" failures="2" errors="1" skipped="0" time="52.150"',
    );
    expect(xml).to.match(/<testsuite name="eni-rp-filter" tests="8" failures="2" errors="1" skipped="0"/);
    expect(xml).to.contain(
      '<failure message="expected all connected: 12/200 connected, 188 not" type="fail">',
    );
    expect(xml).to.contain('type="inconclusive">');
    expect(xml).to.contain(
      '<error message="the lab did not come up: command failed (exit 2): ip netns add rp-c0ffee-node-a" type="error">',
    );
  });

  it('names test cases as the mocha tests are titled (id, title, tags), in the suite as class', () => {
    const cell = chaosCell();
    const xml = renderJunit(sampleRun([cell]));
    expect(xml).to.contain(
      `<testcase classname="returnpath.nlb-hairpin" name="${cell.id}: rp_filter flipped under load [Chaos] [Disruptive]" time="6.100">`,
    );
  });

  it('keeps declared suites in order and adds suites only cells name', () => {
    const run = sampleRun([chaosCell(), rpFilterCell({ id: 'x', suite: 'undeclared' })]);
    const names = [...renderJunit(run).matchAll(/<testsuite name="([^"]+)"/g)].map((m) => m[1]);
    expect(names).to.deep.equal(['eni-rp-filter', 'nlb-hairpin', 'undeclared']);
    expect(renderJunit(run)).to.contain(
      '<testsuite name="eni-rp-filter" tests="0" failures="0" errors="0" skipped="0" time="0.000"/>',
    );
  });

  it('tells apart cells that share a title by their id', () => {
    const xml = renderJunit(sampleRun([rpFilterCell({ id: 'a' }), rpFilterCell({ id: 'b' })]));
    expect(xml).to.match(/name="a: NLB to a pod on eth1, [^"]* \[conformance\]"/);
    expect(xml).to.match(/name="b: NLB to a pod on eth1, [^"]* \[conformance\]"/);
  });

  it('escapes markup and drops what XML cannot carry', () => {
    const hostile = rpFilterCell({
      id: 'evil',
      title: '<script>alert("x")</script> & \'q\'\x00\x07',
      status: 'fail',
      reason: 'line one\nline "two" \x1b[31mred\x1b[0m',
      explanation: ']]> <![CDATA[ \uFFFE \uD800 ok',
    });
    const xml = renderJunit(sampleRun([hostile]));
    expect(xml).to.contain(
      'name="evil: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &apos;q&apos; [conformance]"',
    );
    expect(xml).to.contain('<failure message="line one&#10;line &quot;two&quot; red" type="fail">');
    expect(xml).to.contain(']]&gt; &lt;![CDATA[   ok');
    // eslint-disable-next-line no-control-regex
    expect(xml).not.to.match(/[\x00-\x08\x0b\x0c\x0e-\x1f\uFFFE\uD800]/);
  });

  it('escapes text and attribute values', () => {
    expect(escapeXml('a<b>&c"\'')).to.equal('a&lt;b&gt;&amp;c"\'');
    expect(escapeXmlAttribute('a\t"b"\r\n')).to.equal('a&#9;&quot;b&quot;&#13;&#10;');
    expect(escapeXml('emoji \uD83D\uDE00 kept')).to.equal('emoji \uD83D\uDE00 kept');
  });

  it('is deterministic', () => {
    expect(renderJunit(sampleRun())).to.equal(renderJunit(sampleRun()));
  });
});
