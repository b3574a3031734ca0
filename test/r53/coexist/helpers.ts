// Shared inputs of the coexist tests: inline manifests, firewall documents and zones.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { parseManifests } from '../../../src/api/load.js';
import type { ClusterState } from '../../../src/api/types.js';
import { firewallFromDocument } from '../../../src/r53/firewall-yaml.js';
import type { FirewallConfig } from '../../../src/r53/firewall-model.js';
import { parseZones } from '../../../src/r53/zone-load.js';
import { ZoneSet } from '../../../src/r53/zone-model.js';

export const EXAMPLE = fileURLToPath(new URL('../../../examples/coexist/', import.meta.url));
export const EXAMPLE_ARGS = [
  '-f',
  join(EXAMPLE, 'cluster'),
  '--firewall',
  join(EXAMPLE, 'firewall.yaml'),
  '--zones',
  join(EXAMPLE, 'zones.yaml'),
];

export function state(yaml: string): ClusterState {
  const { state: s, problems } = parseManifests(yaml, 'test.yaml');
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) throw new Error(`test manifests rejected: ${JSON.stringify(errors)}`);
  return s;
}

export function firewall(doc: unknown): FirewallConfig {
  return firewallFromDocument(typeof doc === 'string' ? parseYaml(doc) : doc, 'test-firewall.yaml');
}

export function zones(yaml: string): ZoneSet {
  return new ZoneSet(parseZones(yaml, 'test-zones.yaml'));
}

/** A namespace `app` with pods; `ips` per pod (IPv4 and/or IPv6). */
export function pods(list: readonly { name: string; labels: Record<string, string>; ips: string[] }[]): string {
  const docs = [
    `apiVersion: v1
kind: Namespace
metadata:
  name: app
  labels: { kubernetes.io/metadata.name: app }`,
    ...list.map(
      (p) => `apiVersion: v1
kind: Pod
metadata:
  name: ${p.name}
  namespace: app
  labels: ${JSON.stringify(p.labels)}
spec:
  containers: [{ name: c, image: c }]
status:
  podIP: "${p.ips[0]}"
  podIPs: ${JSON.stringify(p.ips.map((ip) => ({ ip })))}`,
    ),
  ];
  return docs.join('\n---\n');
}

/** An ApplicationNetworkPolicy for pods labelled app=<label> with domainNames on TCP 443. */
export function anp(name: string, label: string, patterns: readonly string[], extraEgress = ''): string {
  return `apiVersion: networking.k8s.aws/v1alpha1
kind: ApplicationNetworkPolicy
metadata:
  name: ${name}
  namespace: app
spec:
  podSelector:
    matchLabels: { app: ${label} }
  policyTypes: [Egress]
  egress:
  - to:
    - domainNames: ${JSON.stringify(patterns)}
    ports:
    - { protocol: TCP, port: 443 }${extraEgress}`;
}
