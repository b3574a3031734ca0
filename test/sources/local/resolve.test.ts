// Local pod selection and interface resolution on hand-written kernel tables (no root needed).
import { describe, expect, it } from 'vitest';
import { resolvePod, selectLocalPods, LocalPodSelectionError, type NetTables } from '../../../src/sources/local-pods.js';
import { podsState } from '../../sandbox/fixtures.js';

const state = podsState([
  { ns: 'a', name: 'p1', ipv4: '10.0.0.1', ipv6: 'fd00:0:0::1', nodeName: 'n1' },
  { ns: 'a', name: 'p2', ipv4: '10.0.0.2', nodeName: 'n2' },
  { ns: 'a', name: 'host', ipv4: '192.168.1.1', nodeName: 'n1', hostNetwork: true },
  { ns: 'a', name: 'pending', nodeName: 'n1' },
]);

describe('selectLocalPods', () => {
  it.each([
    ['standalone, no node name: every non-host-network pod', { mode: 'standalone' as const }, ['a/p1', 'a/p2', 'a/pending']],
    ['standalone with a node name: that node only', { mode: 'standalone' as const, nodeName: 'n2' }, ['a/p2']],
    ['cluster mode: spec.nodeName', { mode: 'cluster' as const, nodeName: 'n1' }, ['a/p1', 'a/pending']],
  ])('%s', (_what, sel, refs) => {
    expect(selectLocalPods(state, sel).map((p) => p.ref)).toEqual(refs);
  });
  it('canonicalises IPv6 and puts IPv4 first', () => {
    expect(selectLocalPods(state, { mode: 'cluster', nodeName: 'n1' })[0]?.ips).toEqual(['10.0.0.1', 'fd00::1']);
  });
  it('refuses cluster mode without a node name', () => {
    expect(() => selectLocalPods(state, { mode: 'cluster' })).toThrow(LocalPodSelectionError);
  });
});

const link = (ifindex: number, ifname: string, extra: Record<string, string> = {}) => [ifname, { ifindex, ifname, ...extra }] as const;
const tables = (t: Partial<NetTables>): NetTables => ({
  routes: new Map(),
  links: new Map([link(1, 'lo'), link(2, 'eth0'), link(5, 'cali1'), link(6, 'cali2'), link(7, 'br0', { kind: 'bridge' }), link(8, 'veth8', { master: 'br0' })]),
  neighbours: [],
  fdb: [],
  ...t,
});
const pod = (ips: string[]) => ({ ref: 'a/p', namespace: 'a', name: 'p', ips });

describe('resolvePod', () => {
  it.each([
    ['routed veth', ['10.0.0.1'], { routes: new Map([['10.0.0.1', { dst: '10.0.0.1', dev: 'cali1' }]]) }, { ifname: 'cali1', ifindex: 5, via: 'route' }],
    ['no route', ['10.0.0.1'], {}, /no route to 10\.0\.0\.1/],
    ['via a gateway: another node', ['10.0.0.1'], { routes: new Map([['10.0.0.1', { dst: '10.0.0.1', dev: 'eth0', gateway: '10.9.9.9' }]]) }, /via gateway 10\.9\.9\.9/],
    ['a local address', ['10.0.0.1'], { routes: new Map([['10.0.0.1', { dst: '10.0.0.1', dev: 'lo', type: 'local' }]]) }, /local address/],
    ['bridged, MAC unknown', ['10.0.0.1'], { routes: new Map([['10.0.0.1', { dst: '10.0.0.1', dev: 'br0' }]]) }, /not known yet/],
    ['bridged, failed neighbour ignored', ['10.0.0.1'], { routes: new Map([['10.0.0.1', { dst: '10.0.0.1', dev: 'br0' }]]), neighbours: [{ dst: '10.0.0.1', dev: 'br0', lladdr: 'aa:bb:cc:00:00:01', state: ['FAILED'] }] }, /not known yet/],
    ['bridged, MAC only on the bridge itself', ['10.0.0.1'], { routes: new Map([['10.0.0.1', { dst: '10.0.0.1', dev: 'br0' }]]), neighbours: [{ dst: '10.0.0.1', dev: 'br0', lladdr: 'aa:bb:cc:00:00:01' }], fdb: [{ mac: 'aa:bb:cc:00:00:01', ifname: 'br0', flags: ['self'] }] }, /no bridge port has learned/],
    ['bridged, FDB port found', ['10.0.0.1'], { routes: new Map([['10.0.0.1', { dst: '10.0.0.1', dev: 'br0' }]]), neighbours: [{ dst: '10.0.0.1', dev: 'br0', lladdr: 'AA:bb:cc:00:00:01', state: ['REACHABLE'] }], fdb: [{ mac: 'aa:bb:cc:00:00:01', ifname: 'veth8', master: 'br0' }] }, { ifname: 'veth8', ifindex: 8, via: 'fdb' }],
    ['second IP resolves when the first does not', ['10.0.0.1', 'fd00::1'], { routes: new Map([['fd00::1', { dst: 'fd00::1', dev: 'cali2' }]]) }, { ifname: 'cali2', ifindex: 6, via: 'route' }],
    ['no IP yet', [], {}, /no pod IP yet/],
  ])('%s', (_what, ips, t, want) => {
    const r = resolvePod(pod(ips), tables(t as Partial<NetTables>));
    if (want instanceof RegExp) {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(want);
    } else {
      expect(r).toEqual({ ok: true, iface: want });
    }
  });
  it('warns when the IPs are behind different interfaces', () => {
    const r = resolvePod(pod(['10.0.0.1', 'fd00::1']), tables({ routes: new Map([['10.0.0.1', { dst: '10.0.0.1', dev: 'cali1' }], ['fd00::1', { dst: 'fd00::1', dev: 'cali2' }]]) }));
    expect(r).toMatchObject({ ok: true, iface: { ifname: 'cali1' }, warning: expect.stringMatching(/different interfaces/) });
  });
});
