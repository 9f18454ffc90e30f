import { existsSync } from 'node:fs';
import { expect } from 'chai';
import { NotFoundError, ValidationError } from '../errors.js';
import {
  healthCheckResponse,
  healthCheckServerArgv,
  healthCheckServers,
  parseHealthCheckConfigs,
  parseHealthCheckUpdate,
} from './healthcheck.js';
import { topologyWith } from './testdata/scenarios.js';

const local = {
  namespace: 'demo',
  name: 'web',
  type: 'LoadBalancer' as const,
  externalTrafficPolicy: 'Local' as const,
  healthCheckNodePort: 32000,
  clusterIP: '172.20.10.10',
  ports: [
    { name: 'http', port: 80, targetPort: 8080, nodePort: 30080 },
    { name: 'https', port: 443, targetPort: 8443, nodePort: 30443 },
  ],
  endpoints: ['web-1', 'web-2', 'web-3'],
};
const topology = topologyWith([
  local,
  {
    name: 'cluster',
    type: 'LoadBalancer',
    clusterIP: '172.20.10.11',
    ports: [{ port: 80, targetPort: 8080, nodePort: 30081 }],
    endpoints: ['web-1'],
  },
  { name: 'plain', type: 'ClusterIP', clusterIP: '172.20.10.12', ports: [{ port: 80, targetPort: 8080 }] },
]);

describe('kube-proxy health check', () => {
  describe('healthCheckServers', () => {
    it('has one server per LoadBalancer Service with Local policy, counting local endpoint IPs once', () => {
      expect(healthCheckServers(topology, 'node-a')).to.deep.equal([
        { port: 32000, namespace: 'demo', name: 'web', localEndpoints: 1 },
      ]);
      expect(healthCheckServers(topology, 'node-b')[0]?.localEndpoints).to.equal(2);
      expect(healthCheckServers(topology, 'node-c')[0]?.localEndpoints).to.equal(0);
    });

    it('throws NotFoundError for an unknown node', () => {
      expect(() => healthCheckServers(topology, 'nope')).to.throw(NotFoundError);
    });
  });

  describe('healthCheckResponse', () => {
    it('answers 200 with kube-proxy body and headers while there are local endpoints', () => {
      const r = healthCheckResponse({ port: 32000, namespace: 'demo', name: 'web', localEndpoints: 2 });
      expect(r.status).to.equal(200);
      expect(r.headers).to.deep.equal({
        'Content-Type': 'application/json',
        'X-Content-Type-Options': 'nosniff',
        'X-Load-Balancing-Endpoint-Weight': '2',
      });
      expect(r.body).to.equal(
        '{\n\t"service": {\n\t\t"namespace": "demo",\n\t\t"name": "web"\n\t},\n\t"localEndpoints": 2,\n\t"serviceProxyHealthy": true\n}',
      );
      expect(JSON.parse(r.body)).to.deep.equal({
        service: { namespace: 'demo', name: 'web' },
        localEndpoints: 2,
        serviceProxyHealthy: true,
      });
    });

    it('answers 503 without local endpoints', () => {
      const r = healthCheckResponse({ port: 32000, namespace: 'demo', name: 'web', localEndpoints: 0 });
      expect(r.status).to.equal(503);
      expect(JSON.parse(r.body).localEndpoints).to.equal(0);
    });
  });

  describe('parsing', () => {
    it('accepts the configs healthCheckServers returns', () => {
      const configs = healthCheckServers(topology, 'node-a');
      expect(parseHealthCheckConfigs(JSON.stringify(configs))).to.deep.equal(configs);
    });

    it('reports every bad config field with its path', () => {
      const bad = JSON.stringify([
        { port: 0, namespace: 'demo', name: 'web', localEndpoints: -1 },
        { port: 32000, namespace: '', name: 'x', localEndpoints: 1 },
        { port: 32000, namespace: 'a', name: 'y', localEndpoints: 1 },
      ]);
      try {
        parseHealthCheckConfigs(bad);
        expect.fail('no error');
      } catch (e) {
        expect(e).to.be.instanceOf(ValidationError);
        expect((e as ValidationError).problems.map((p) => p.path)).to.deep.equal([
          '[0].port',
          '[0].localEndpoints',
          '[1].namespace',
          '[2].port',
        ]);
      }
      expect(() => parseHealthCheckConfigs('{}')).to.throw(ValidationError, /JSON array/);
      expect(() => parseHealthCheckConfigs('')).to.throw(ValidationError, /not JSON/);
    });

    it('parses run-time updates', () => {
      expect(parseHealthCheckUpdate('{"port":32000,"localEndpoints":0}')).to.deep.equal({
        port: 32000,
        localEndpoints: 0,
      });
      expect(() => parseHealthCheckUpdate('{"port":32000}')).to.throw(ValidationError, /localEndpoints/);
      expect(() => parseHealthCheckUpdate('[1]')).to.throw(ValidationError, /JSON object/);
    });
  });

  it('builds the argv that starts the compiled server', () => {
    const configs = healthCheckServers(topology, 'node-a');
    const argv = healthCheckServerArgv(configs);
    expect(argv[0]).to.equal(process.execPath);
    expect(argv[1]).to.match(/healthcheck-server\.js$/);
    expect(existsSync(argv[1]!)).to.equal(true);
    expect(JSON.parse(argv[2]!)).to.deep.equal(configs);
  });
});
