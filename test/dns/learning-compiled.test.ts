// Learning as enforcement sees it: a small cluster with a domain rule is compiled (src/compile),
// applied to the memory datapath, and the pod's DNS goes through the real proxy. The verdicts come
// from decide() on the applied compilation, not from the learned-entry tables.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { CompiledPolicyView } from '../../src/agent/policy-view.js';
import { compile } from '../../src/compile/index.js';
import { MemoryDatapath } from '../../src/datapath/memory/memory-datapath.js';
import { DnsProxy } from '../../src/dns/proxy.js';
import { stateFromYaml } from '../policy/support/state.js';
import { dig } from './helpers/client.js';
import { TestUpstream } from './helpers/test-upstream.js';

// The pod's address is a loopback one so dig can send from it.
const POD_IP = '127.0.0.2';
const OTHER_IP = '127.0.0.3';
const STATE = `
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Node
metadata: {name: n0}
status: {addresses: [{type: InternalIP, address: 192.168.0.1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
spec: {nodeName: n0, containers: [{name: c}]}
status: {podIP: ${POD_IP}, podIPs: [{ip: ${POD_IP}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: a, labels: {app: other}}
spec: {nodeName: n0, containers: [{name: c}]}
status: {podIP: ${OTHER_IP}, podIPs: [{ip: ${OTHER_IP}}]}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: api}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {}}
  egress:
  - name: api
    action: Accept
    to: [{domainNames: ["*.example.test"]}]
    protocols: [{tcp: {destinationPort: {number: 443}}}]
  - name: rest
    action: Deny
    to: [{networks: [0.0.0.0/0]}]
`;

const API_IP = '203.0.113.7';
let upstream: TestUpstream;
let datapath: MemoryDatapath;
let proxy: DnsProxy;
let port: number;

beforeAll(async () => {
  const state = stateFromYaml(STATE);
  const node = compile(state, { nodeName: 'n0' }, { mode: 'strict' });
  datapath = new MemoryDatapath();
  await datapath.applyNode(node, () => 1);
  const view = new CompiledPolicyView();
  view.rebuild(node, state);
  upstream = await new TestUpstream().start();
  upstream.set('api.example.test', { a: [API_IP], ttl: 300 });
  proxy = new DnsProxy({ listen: [{ host: '127.0.0.1', port: 0 }], upstreams: [upstream.address] }, { view, datapath, logger: pino({ level: 'silent' }) });
  port = (await proxy.start())[0]!.port;
});
afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

const verdict = (pod: string, peer: string, port: number, protocol: 'TCP' | 'UDP' = 'TCP'): string =>
  datapath.decide(pod, 'egress', { peer, protocol, port }).verdict;

describe('a compiled domain rule, applied, learns through the proxy', () => {
  it('denies the IP before the answer; after it, allows it on the rule port only, for the resolving pod only', async () => {
    expect(verdict('a/client', API_IP, 443)).toBe('deny');

    const [r] = await dig(port, ['-b', POD_IP, 'api.example.test']);
    expect(r!.status).toBe('NOERROR');
    expect(r!.answers.map((a) => a.data)).toEqual([API_IP]);

    expect.soft(verdict('a/client', API_IP, 443)).toBe('allow');
    expect.soft(verdict('a/client', API_IP, 80)).toBe('deny');
    expect.soft(verdict('a/client', API_IP, 443, 'UDP')).toBe('deny');
    expect.soft(verdict('a/client', '203.0.113.8', 443)).toBe('deny');
    // Another pod under the same rule has not resolved the name.
    expect.soft(verdict('a/other', API_IP, 443)).toBe('deny');
  });

  it('a name outside the pattern teaches nothing', async () => {
    upstream.set('api.example.org', { a: ['203.0.113.9'] });
    const [r] = await dig(port, ['-b', POD_IP, 'api.example.org']);
    expect(r!.status).toBe('NOERROR');
    expect(verdict('a/client', '203.0.113.9', 443)).toBe('deny');
  });
});
