// A small cluster and zone shared by the harness tests.
import { parseManifests } from '../../src/api/load.js';
import type { ClusterState } from '../../src/api/types.js';
import type { ZoneRecord } from '../../src/sandbox/index.js';

export function podsState(pods: { ns: string; name: string; ipv4?: string; ipv6?: string; labels?: Record<string, string>; nodeName?: string; hostNetwork?: boolean }[]): ClusterState {
  const docs = pods.map((p) => {
    const ips = [p.ipv4, p.ipv6].filter((x): x is string => x !== undefined);
    return JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: p.name, namespace: p.ns, labels: p.labels ?? { app: p.name } },
      spec: { containers: [{ name: 'c' }], ...(p.nodeName ? { nodeName: p.nodeName } : {}), ...(p.hostNetwork ? { hostNetwork: true } : {}) },
      status: ips.length > 0 ? { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) } : {},
    });
  });
  const { state, problems } = parseManifests(docs.join('\n---\n'), 'fixture.yaml');
  if (problems.some((p) => p.severity === 'error')) throw new Error(`fixture problems: ${JSON.stringify(problems)}`);
  return state;
}

export const ZONE: ZoneRecord[] = [
  { name: 'myapp.mydomain.com', type: 'A', data: '192.0.2.10', ttl: 30 },
  { name: 'myapp.mydomain.com', type: 'AAAA', data: '2001:db8::10', ttl: 30 },
  { name: 'alias.mydomain.com', type: 'CNAME', data: 'myapp.mydomain.com' },
  { name: '*.s3.us-east-1.amazonaws.com', type: 'A', data: '198.51.100.7' },
  { name: 'other.example.org', type: 'A', data: '203.0.113.99' },
];
