// The `dnsgate explain` / `dnsgate lint` commands in-process: output shape, exit codes, no partial
// output on bad input. Verdicts here are derived by hand from SEMANTICS.md.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CommandOutput } from '../../src/cli/output.js';

const dir = mkdtempSync(join(tmpdir(), 'dnsgate-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, (o: CommandOutput) => {
    stdout += o.stdout;
    stderr += o.stderr;
  });
  return { code, stdout, stderr };
}

const cluster = file(
  'cluster.yaml',
  `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {kubernetes.io/metadata.name: shop}}
---
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: 172.18.0.2}]}
---
apiVersion: v1
kind: Pod
metadata: {name: checkout, namespace: shop, labels: {app: checkout}}
spec: {nodeName: n1, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 10.244.0.10, podIPs: [{ip: 10.244.0.10}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {nodeName: n1, containers: [{name: c}]}
status: {podIP: 10.244.0.11, podIPs: [{ip: 10.244.0.11}]}
`,
);

const policies = file(
  'policies.yaml',
  `
apiVersion: networking.k8s.aws/v1alpha1
kind: ApplicationNetworkPolicy
metadata: {name: checkout-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: checkout}}
  policyTypes: [Egress]
  egress:
  - to: [{domainNames: ["*.dynamodb.us-east-1.amazonaws.com"]}]
    ports: [{protocol: TCP, port: 443}]
---
apiVersion: networking.k8s.aws/v1alpha1
kind: ClusterNetworkPolicy
metadata: {name: block-imds}
spec:
  tier: Admin
  priority: 1
  subject: {namespaces: {}}
  egress:
  - name: deny-imds
    action: Deny
    to: [{networks: [169.254.169.254/32]}]
`,
);

const flows = file(
  'flows.yaml',
  `
- {from: shop/checkout, to: 192.0.2.7, protocol: TCP, port: 443, fqdn: foo.dynamodb.us-east-1.amazonaws.com}
- {from: shop/checkout, to: 192.0.2.7, protocol: TCP, port: 443}
- {from: shop/checkout, to: 192.0.2.7, protocol: TCP, port: 80, fqdn: foo.dynamodb.us-east-1.amazonaws.com}
- {from: shop/web, to: 169.254.169.254, protocol: TCP, port: 80}
- {from: shop/web, to: shop/checkout, protocol: TCP, port: 8080}
`,
);

describe('dnsgate explain', () => {
  it('prints one JSON element per flow, in input order, with both directions', async () => {
    const { code, stdout, stderr } = await run('explain', '-f', cluster, policies, '--flows', flows, '-o', 'json');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as Array<Record<string, unknown>>;
    expect(out.map((r) => r.verdict)).toEqual(['Allow', 'Deny', 'Deny', 'Deny', 'Allow']);
    expect(out[0]).toMatchObject({
      from: 'shop/checkout',
      to: '192.0.2.7',
      protocol: 'TCP',
      port: 443,
      fqdn: 'foo.dynamodb.us-east-1.amazonaws.com',
      egress: { verdict: 'Allow', tier: 'NetworkPolicy', policy: 'ApplicationNetworkPolicy/shop/checkout-egress', rule: 0 },
      ingress: { verdict: 'Allow', tier: 'NotEnforced', policy: null, rule: null },
    });
        // Isolated by the ANP, matched by none of its rules: the isolating policy is named, no rule.
    expect(out[1]).toMatchObject({
      egress: { verdict: 'Deny', tier: 'NetworkPolicy', policy: 'ApplicationNetworkPolicy/shop/checkout-egress', rule: null },
    });
    expect(out[3]).toMatchObject({
      egress: { verdict: 'Deny', tier: 'Admin', policy: 'ClusterNetworkPolicy/block-imds', rule: 'deny-imds' },
    });
    expect(out[4]).toMatchObject({
      egress: { verdict: 'Allow', tier: 'Default' },
      ingress: { verdict: 'Allow', tier: 'Default' },
    });
  });

  it('prints a table by default', async () => {
    const { code, stdout } = await run('explain', '-f', cluster, policies, '--flows', flows);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^FROM\s+TO\s+PROTO\s+VERDICT\s+EGRESS\s+INGRESS$/);
    expect(lines).toHaveLength(6);
    expect(lines[4]).toMatch(/DENY.*Admin ClusterNetworkPolicy\/block-imds rule deny-imds/);
  });

  it('denies the unselected flow in strict mode', async () => {
    const { stdout } = await run('explain', '-f', cluster, policies, '--flows', flows, '-o', 'json', '--mode', 'strict');
    const out = JSON.parse(stdout) as Array<{ verdict: string; egress: { tier: string } }>;
    expect(out[4]).toMatchObject({ verdict: 'Deny', egress: { tier: 'Default' } });
  });

  it.each([
    ['an unknown pod', `- {from: shop/nope, to: shop/web, protocol: TCP, port: 80}`, /shop\/nope/],
    ['ends with no common IP family', `- {from: shop/web, to: "2001:db8::1", protocol: TCP, port: 80}`, /family/i],
    ['a malformed flow', `- {from: shop/web, to: shop/checkout, protocol: TCP}`, /\[0\]\.port/],
  ])('exits 2 with no output on %s', async (_n, text, want) => {
    const bad = file('bad-flows.yaml', text);
    const { code, stdout, stderr } = await run('explain', '-f', cluster, policies, '--flows', bad, '-o', 'json');
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(want);
  });

  it('exits 2 naming the object and field of an invalid manifest', async () => {
    const invalid = file(
      'invalid.yaml',
      `
apiVersion: networking.k8s.aws/v1alpha1
kind: ClusterNetworkPolicy
metadata: {name: too-high}
spec: {tier: Admin, priority: 1001, subject: {namespaces: {}}}
`,
    );
    const { code, stdout, stderr } = await run('explain', '-f', cluster, invalid, '--flows', flows);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/too-high/);
    expect(stderr).toMatch(/spec\.priority/);
  });

  it('exits 2 on an unknown flag', async () => {
    const { code } = await run('explain', '--bogus');
    expect(code).toBe(2);
  });
});

describe('dnsgate lint', () => {
  it('exits 0 on valid manifests and 1 when any error is found', async () => {
    expect((await run('lint', '-f', cluster, policies)).code).toBe(0);
    const invalid = file(
      'invalid2.yaml',
      `
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: bad-range}
spec:
  tier: Baseline
  priority: 3
  subject: {namespaces: {}}
  egress:
  - action: Accept
    to: [{networks: [10.0.0.0/8]}]
    protocols: [{tcp: {destinationPort: {range: {start: 90, end: 80}}}}]
`,
    );
    const { code, stdout } = await run('lint', '-f', cluster, invalid);
    expect(code).toBe(1);
    expect(stdout).toMatch(/bad-range/);
    expect(stdout).toMatch(/1 error/);
  });

  it('warns about two cluster policies with the same tier and priority', async () => {
    const clash = file(
      'clash.yaml',
      `
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: one}
spec: {tier: Admin, priority: 5, subject: {namespaces: {}}, egress: [{action: Deny, to: [{networks: [10.0.0.0/8]}]}]}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: two}
spec: {tier: Admin, priority: 5, subject: {namespaces: {}}, egress: [{action: Accept, to: [{networks: [10.0.0.0/8]}]}]}
`,
    );
    const { code, stdout } = await run('lint', '-f', cluster, clash);
    expect(code).toBe(0);
    expect(stdout).toMatch(/warning.*(one|two)/);
    expect(stdout).toMatch(/priority/);
  });
});
