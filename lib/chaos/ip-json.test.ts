import { expect } from 'chai';
import {
  UnsupportedAttributeError,
  parseIpJson,
  reconcileRoutes,
  reconcileRules,
  renderRoute,
  renderRule,
  routeArgs,
  ruleArgs,
  type IpRoute,
  type IpRule,
} from './ip-json.js';
import { readChaosTestdata } from './test-helpers.js';

// `ip -j rule show` of rules added with the commands in the comments (iproute2 6.x).
const RULES: [IpRule, string][] = [
  [
    { priority: 100, not: null, src: '10.1.0.0', srclen: 16, table: '5' },
    'not from 10.1.0.0/16 lookup 5 pref 100',
  ],
  [
    {
      priority: 200,
      src: '10.2.0.1',
      dst: '10.3.0.0',
      dstlen: 24,
      fwmark: '0x80',
      fwmask: '0x80',
      iif: 'v0',
      table: '7',
    },
    'from 10.2.0.1 to 10.3.0.0/24 fwmark 0x80/0x80 iif v0 lookup 7 pref 200',
  ],
  [
    { priority: 300, src: 'all', tos: '0x10', oif: 'v0', table: 'main' },
    'from all tos 0x10 oif v0 lookup main pref 300',
  ],
  [
    { priority: 400, src: 'all', ipproto: 'tcp', dport: 80, table: '8' },
    'from all ipproto tcp dport 80 lookup 8 pref 400',
  ],
  [{ priority: 500, src: 'all', action: 'blackhole' }, 'from all blackhole pref 500'],
  [
    { priority: 600, src: 'all', table: 'main', suppress_prefixlen: 0 },
    'from all lookup main suppress_prefixlength 0 pref 600',
  ],
  [{ priority: 650, src: 'all', goto: 700 }, 'from all goto 700 pref 650'],
  [
    { priority: 700, src: 'all', uid_start: 1000, uid_end: 2000, table: '9' },
    'from all uidrange 1000-2000 lookup 9 pref 700',
  ],
  [
    { priority: 900, src: 'all', sport_start: 1000, sport_end: 2000, table: '11' },
    'from all sport 1000-2000 lookup 11 pref 900',
  ],
];

describe('chaos: ip -j rules and routes', () => {
  it('turns every rule of ip -j rule show back into ip rule add arguments', () => {
    for (const [rule, args] of RULES) expect(ruleArgs(rule).join(' ')).to.equal(args);
  });

  it('renders the CNI rules of a lab node canonically', () => {
    const rules = parseIpJson<IpRule>(readChaosTestdata('ip-rule.json'), 'test');
    expect(rules.map(renderRule)).to.deep.equal([
      '0: from all lookup local',
      '512: from all to 10.0.1.50 lookup main',
      '512: from all to 10.0.1.70 lookup main',
      '1024: from all fwmark 0x80/0x80 lookup main',
      '1536: from 10.0.1.70 lookup 2',
      '32765: from 10.0.1.20 lookup 2',
      '32766: from all lookup main',
      '32767: from all lookup default',
    ]);
  });

  it('refuses a rule attribute it cannot restore, but still renders it', () => {
    const odd = { priority: 10, src: 'all', table: 'main', newthing: 1 } as IpRule;
    expect(() => ruleArgs(odd)).to.throw(UnsupportedAttributeError, /newthing/);
    expect(renderRule(odd)).to.equal('10: from all lookup main newthing=1');
  });

  it('turns routes back into ip route add arguments, with their table and without state flags', () => {
    const routes = parseIpJson<IpRoute>(readChaosTestdata('ip-route.json'), 'test');
    expect(routes.map((r) => routeArgs(r).join(' '))).to.include.members([
      'default via 10.0.1.1 dev eth1 table 2',
      '10.0.1.1 dev eth1 table 2 scope link',
      '10.0.1.0/24 dev eth0 table main proto kernel scope link src 10.0.1.10',
      'local 10.0.1.20 dev eth1 table local proto kernel scope host src 10.0.1.20',
    ]);
    const r: IpRoute = {
      dst: '10.7.0.0/16',
      gateway: '10.9.0.3',
      dev: 'v0',
      flags: ['onlink', 'linkdown'],
      metrics: [{ mtu: 1400 }],
    };
    expect(routeArgs(r).join(' ')).to.equal('10.7.0.0/16 via 10.9.0.3 dev v0 table main onlink mtu 1400');
    expect(renderRoute(r)).to.equal('10.7.0.0/16 via 10.9.0.3 dev v0 table main onlink mtu 1400 linkdown');
    expect(routeArgs({ type: 'unreachable', dst: '10.6.0.0/16', table: '5', flags: [] }).join(' ')).to.equal(
      'unreachable 10.6.0.0/16 table 5',
    );
    expect(
      routeArgs({
        dst: '10.8.0.0/16',
        nexthops: [
          { gateway: '10.9.0.2', dev: 'v0', weight: 2, flags: [] },
          { gateway: '10.9.0.3', dev: 'v0', weight: 1, flags: [] },
        ],
      }).join(' '),
    ).to.equal(
      '10.8.0.0/16 table main nexthop via 10.9.0.2 dev v0 weight 2 nexthop via 10.9.0.3 dev v0 weight 1',
    );
  });

  it('reconciles routes after a link came back: slot conflicts first, direct routes before gateways, extras last', () => {
    const saved: IpRoute[] = [
      { dst: 'default', gateway: '10.0.1.1', dev: 'eth1', table: '2', flags: [] },
      { dst: '10.0.1.1', dev: 'eth1', table: '2', scope: 'link', flags: [] },
      {
        type: 'local',
        dst: '10.0.1.20',
        dev: 'eth1',
        table: 'local',
        protocol: 'kernel',
        scope: 'host',
        prefsrc: '10.0.1.20',
        flags: [],
      },
    ];
    const now: IpRoute[] = [
      // Re-added by the kernel on link up; the CNI had deleted it.
      { dst: '10.0.1.0/24', dev: 'eth1', protocol: 'kernel', scope: 'link', prefsrc: '10.0.1.20', flags: [] },
      saved[2]!,
      // Something else took the default route's slot in table 2.
      { dst: 'default', gateway: '10.0.1.1', dev: 'eth0', table: '2', flags: [] },
    ];
    expect(reconcileRoutes(now, saved).lines).to.deep.equal([
      'route del default via 10.0.1.1 dev eth0 table 2',
      'route add 10.0.1.1 dev eth1 table 2 scope link',
      'route add default via 10.0.1.1 dev eth1 table 2',
      'route del 10.0.1.0/24 dev eth1 table main proto kernel scope link src 10.0.1.20',
    ]);
    expect(reconcileRoutes(saved, saved).lines).to.deep.equal([]);
  });

  it('reconciles rules as a multiset (two rules at one priority)', () => {
    const a: IpRule = { priority: 512, src: 'all', dst: '10.0.1.50', table: 'main' };
    const b: IpRule = { priority: 512, src: 'all', dst: '10.0.1.70', table: 'main' };
    expect(reconcileRules([a], [a, b]).lines).to.deep.equal([
      'rule add from all to 10.0.1.70 lookup main pref 512',
    ]);
    expect(reconcileRules([a, b, b], [a, b]).lines).to.deep.equal([
      'rule del from all to 10.0.1.70 lookup main pref 512',
    ]);
  });

  it('reads empty ip -j output as no entries and reports garbage', () => {
    expect(parseIpJson('', 'x')).to.deep.equal([]);
    expect(() => parseIpJson('{"a":1}', 'ip rule')).to.throw(/ip rule: unparsable/);
  });
});
