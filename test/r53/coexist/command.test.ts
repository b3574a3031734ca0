// `dnsgate coexist` as the CLI runs it: arguments, exit codes, the JSON shape, and the example's
// committed output (examples/coexist/expected.json, expected.txt).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCoexistCommand } from '../../../src/r53/coexist/index.js';
import type { CoexistReport } from '../../../src/r53/coexist/index.js';
import { EXAMPLE, EXAMPLE_ARGS } from './helpers.js';

async function run(argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  const err: string[] = [];
  const code = await runCoexistCommand(argv, { stdout: (t) => void (stdout += t), stderr: (l) => void err.push(l) });
  return { code, stdout, stderr: err.join('\n') };
}

const tmp = mkdtempSync(join(tmpdir(), 'coexist-cmd-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
function file(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

const FW = join(EXAMPLE, 'firewall.yaml');
const CLUSTER = join(EXAMPLE, 'cluster');

describe('bad input exits 2 with a message', () => {
  const badPolicy = file(
    'bad-policy.yaml',
    'apiVersion: networking.k8s.aws/v1alpha1\nkind: ApplicationNetworkPolicy\nmetadata: { name: x, namespace: a }\nspec:\n  podSelector: {}\n  egress:\n  - to: [{ domainNames: ["*"] }]\n',
  );
  const badFirewall = file('bad-fw.yaml', 'ruleGroups: 3\n');
  const badZones = file('bad-zones.yaml', 'zones: [{ origin: example.com, records: [{ name: a, type: A, value: nope }] }]\n');
  it.each([
    ['no arguments', [], '-f and --firewall are required'],
    ['no firewall', ['-f', CLUSTER], '-f and --firewall are required'],
    ['unknown option', ['-f', CLUSTER, '--firewall', FW, '--bogus'], 'bogus'],
    ['bad output format', ['-f', CLUSTER, '--firewall', FW, '-o', 'yaml'], '-o must be table or json'],
    ['bad mode', ['-f', CLUSTER, '--firewall', FW, '--mode', 'lenient'], '--mode must be'],
    ['--names with --name', ['-f', CLUSTER, '--firewall', FW, '--names', 'x', '--name', 'a.example.com'], 'not both'],
    ['bad --fail-open', ['-f', CLUSTER, '--firewall', FW, '--fail-open', 'MAYBE'], '--fail-open must be'],
    ['bad port', ['-f', CLUSTER, '--firewall', FW, '--port', 'TCP/70000'], '--port[0]'],
    ['bad name', ['-f', CLUSTER, '--firewall', FW, '--name', 'a..example.com'], '--name[0]'],
    ['bad wildcard name', ['-f', CLUSTER, '--firewall', FW, '--name', '*.com'], 'two labels'],
    ['missing names file', ['-f', CLUSTER, '--firewall', FW, '--names', join(tmp, 'nope.txt')], 'cannot read'],
    ['missing manifest', ['-f', join(tmp, 'nope'), '--firewall', FW], 'cannot read'],
    ['rejected manifest', ['-f', badPolicy, '--firewall', FW], 'manifest error'],
    ['missing firewall', ['-f', CLUSTER, '--firewall', join(tmp, 'nope.yaml')], 'cannot read'],
    ['invalid firewall', ['-f', CLUSTER, '--firewall', badFirewall], 'ruleGroups'],
    ['missing zones', ['-f', CLUSTER, '--firewall', FW, '--zones', join(tmp, 'nope.yaml')], 'cannot read'],
    ['invalid zones', ['-f', CLUSTER, '--firewall', FW, '--zones', badZones], 'IPv4'],
    ['--min-ttl not a number', ['-f', CLUSTER, '--firewall', FW, '--min-ttl', 'soon'], '--min-ttl'],
    ['--min-ttl negative', ['-f', CLUSTER, '--firewall', FW, '--min-ttl', '-1'], '--min-ttl'],
    ['--max-ttl below --min-ttl', ['-f', CLUSTER, '--firewall', FW, '--min-ttl', '100', '--max-ttl', '50'], '--max-ttl'],
  ])('%s', async (_label, argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(message);
  });
});

describe('running', () => {
  it('the example: table, exit 0; with --fail-on-conflict exit 1', async () => {
    const r = await run(EXAMPLE_ARGS);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^SUBJECT\s+NAME\s+POLICY \(no firewall\)\s+FIREWALL\s+OUTCOME$/);
    expect((await run([...EXAMPLE_ARGS, '--fail-on-conflict'])).code).toBe(1);
  });

  it('--fail-on-conflict exits 0 when nothing conflicts', async () => {
    const r = await run(['-f', CLUSTER, '--firewall', FW, '--zones', join(EXAMPLE, 'zones.yaml'), '--name', 'api.partner.example.com', '--fail-on-conflict', '-o', 'json']);
    const report = JSON.parse(r.stdout) as CoexistReport;
    expect(report.conflicts).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('-f takes several paths like the other subcommands', async () => {
    const r = await run(['-f', join(CLUSTER, 'state.yaml'), join(CLUSTER, 'policies.yaml'), '--firewall', FW, '-o', 'json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as CoexistReport).subjects.length).toBe(4);
  });

  it('--names reads a file: exact names and wildcard probes only', async () => {
    const r = await run([...EXAMPLE_ARGS, '--names', join(EXAMPLE, 'names.txt'), '-o', 'json']);
    const report = JSON.parse(r.stdout) as CoexistReport;
    expect(report.names.map((n) => [n.name, n.probeFor])).toEqual([
      ['dnsgate-probe.vendor.example.net', '*.vendor.example.net'],
      ['legacy-billing.example.com', null],
      ['spin.casino.example', null],
      ['telemetry.vendor.example.net', null],
    ]);
    const telemetry = report.rows.find((x) => x.subject === 'shop/payments-0' && x.name === 'telemetry.vendor.example.net')!;
    // ALERT in the firewall, but the Admin tier denies the vendor range: the policy decides.
    expect(telemetry.results[0]!.firewall.action).toBe('ALERT');
    expect(telemetry.outcome).toBe('blocked-by-policy');
    expect(telemetry.results[0]!.policy?.tier).toBe('Admin');
  });

  it('--firewall-unavailable: SERVFAIL everywhere; with --fail-open ENABLED, uninspected answers', async () => {
    const closed = JSON.parse((await run([...EXAMPLE_ARGS, '--firewall-unavailable', '-o', 'json'])).stdout) as CoexistReport;
    expect(new Set(closed.rows.flatMap((x) => x.results.map((t) => t.dns.rcode)))).toEqual(new Set(['SERVFAIL']));
    const open = JSON.parse((await run([...EXAMPLE_ARGS, '--firewall-unavailable', '--fail-open', 'ENABLED', '-o', 'json'])).stdout) as CoexistReport;
    const paste = open.rows.find((x) => x.subject === 'shop/payments-0' && x.name === 'pastebin.example.org')!;
    expect(paste.outcome).toBe('reachable');
    expect(paste.results[0]!.firewall.bypassed).toBe(true);
  });

  it('--port replaces the probed ports', async () => {
    const r = JSON.parse((await run([...EXAMPLE_ARGS, '--port', 'tcp/587', '--port', 'UDP/53', '--name', 'mail.example.com', '-o', 'json'])).stdout) as CoexistReport;
    expect(r.subjects.every((s) => s.ports.join() === 'TCP/587,UDP/53')).toBe(true);
    const mail = r.rows.find((x) => x.subject === 'shop/payments-0')!;
    expect(mail.results[0]!.policy).toMatchObject({ allowedPorts: ['TCP/587'], deniedPorts: ['UDP/53'] });
  });

  it('reads the firewall from an AWS CLI bundle', async () => {
    const r = await run(['-f', CLUSTER, '--firewall', join(EXAMPLE, '..', 'r53', 'aws-cli', 'firewall-bundle.yaml'), '-o', 'json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as CoexistReport;
    expect(report.names.some((n) => n.sources.some((s) => s.kind === 'firewall'))).toBe(true);
  });
});

describe('JSON output shape', () => {
  const KEYS = {
    report: ['version', 'mode', 'firewall', 'zonesGiven', 'learning', 'subjects', 'names', 'rows', 'conflicts', 'notes'],
    subject: ['id', 'pods', 'policies', 'families', 'ports'],
    row: ['subject', 'name', 'probeFor', 'patterns', 'results', 'outcome', 'notes'],
    result: ['qtype', 'firewall', 'dns', 'learned', 'policy', 'intended', 'outcome'],
    firewall: ['verdict', 'action', 'blockResponse', 'overrideDomain', 'ruleGroup', 'rule', 'domainList', 'entry', 'matchedName', 'chainIndex', 'redirection', 'inspected', 'bypassed'],
    dns: ['rcode', 'answers', 'known'],
    policy: ['verdict', 'addresses', 'addressesKnown', 'allowedPorts', 'deniedPorts', 'byLearning', 'tier', 'policy', 'rule', 'reason'],
    learned: ['name', 'ip', 'ttl', 'learnedForSeconds', 'patterns'],
    outcome: ['kind', 'rcode', 'summary'],
    conflict: ['kind', 'name', 'subjects', 'policy', 'firewall', 'detail'],
  };
  const keys = (o: object): string[] => Object.keys(o).sort();

  it('every object has exactly its documented fields', async () => {
    const report = JSON.parse((await run([...EXAMPLE_ARGS, '-o', 'json'])).stdout) as CoexistReport;
    expect(keys(report)).toEqual([...KEYS.report].sort());
    expect(report.version).toBe(1);
    for (const s of report.subjects) expect(keys(s)).toEqual([...KEYS.subject].sort());
    expect(report.rows.length).toBe(report.subjects.length * report.names.length);
    for (const row of report.rows) {
      expect(keys(row)).toEqual([...KEYS.row].sort());
      expect(row.results.map((r) => r.qtype)).toEqual(['A', 'AAAA']);
      for (const r of row.results) {
        expect(keys(r)).toEqual([...KEYS.result].sort());
        expect(keys(r.firewall)).toEqual([...KEYS.firewall].sort());
        expect(keys(r.dns)).toEqual([...KEYS.dns].sort());
        expect(keys(r.outcome)).toEqual([...KEYS.outcome].sort());
        for (const p of [r.policy, r.intended]) if (p !== null) expect(keys(p)).toEqual([...KEYS.policy].sort());
        for (const l of r.learned) expect(keys(l)).toEqual([...KEYS.learned].sort());
      }
    }
    for (const c of report.conflicts) expect(keys(c)).toEqual([...KEYS.conflict].sort());
  });
});

describe('--min-ttl / --max-ttl', () => {
  // legacy-billing.example.com: the OVERRIDE chain's lowest TTL is 30 s (see the example README).
  it.each([
    { args: [], minTTL: 60, maxTTL: 86400, seconds: 60, what: 'defaults: the proxy\'s 60 s / 86400 s, 30 s clamped up to 60' },
    { args: ['--min-ttl', '10'], minTTL: 10, maxTTL: 86400, seconds: 30, what: 'a lower minimum keeps the 30 s' },
    { args: ['--min-ttl', '0', '--max-ttl', '20'], minTTL: 0, maxTTL: 20, seconds: 20, what: 'a maximum below the TTL caps it' },
    { args: ['--min-ttl', '300', '--max-ttl', '300'], minTTL: 300, maxTTL: 300, seconds: 300, what: 'equal bounds fix it' },
  ])('$what', async ({ args, minTTL, maxTTL, seconds }) => {
    const r = await run([...EXAMPLE_ARGS, '-o', 'json', ...args]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as CoexistReport;
    expect(report.learning).toEqual({ minTTL, maxTTL });
    const legacy = report.rows.find((x) => x.subject === 'shop/payments-0' && x.name === 'legacy-billing.example.com')!;
    expect(legacy.results[0]!.learned.map((l) => [l.ttl, l.learnedForSeconds])).toEqual([[30, seconds]]);
  });
});

describe('the example', () => {
  it('prints exactly the committed expected.json and expected.txt', async () => {
    const json = await run([...EXAMPLE_ARGS, '-o', 'json']);
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(readFileSync(join(EXAMPLE, 'expected.json'), 'utf8')));
    const table = await run(EXAMPLE_ARGS);
    expect(table.stdout).toBe(readFileSync(join(EXAMPLE, 'expected.txt'), 'utf8'));
  });

  it('shows each conflict kind the README walks through', async () => {
    const report = JSON.parse((await run([...EXAMPLE_ARGS, '-o', 'json'])).stdout) as CoexistReport;
    expect(report.conflicts.map((c) => `${c.kind} ${c.name}`).sort()).toEqual([
      'dead-rule pastebin.example.org',
      'dead-rule status.example.com',
      'override-unreachable walled.example.com',
      'qtype-split mail.example.com',
      'redirection-chain downloads.example.com',
      'redirection-chain status.example.com',
    ]);
    const legacy = report.rows.find((x) => x.subject === 'shop/payments-0' && x.name === 'legacy-billing.example.com')!;
    expect(legacy.results[0]!.learned).toEqual([
      { name: 'legacy-billing.example.com', ip: '198.51.100.80', ttl: 30, learnedForSeconds: 60, patterns: ['legacy-billing.example.com'] },
    ]);
    const frontend = report.rows.find((x) => x.subject === 'shop/frontend-0' && x.name === 'legacy-billing.example.com')!;
    expect(frontend.outcome).toBe('override-denied');
    const report0 = report.rows.find((x) => x.subject === 'batch/report-0' && x.name === 'legacy-billing.example.com')!;
    expect(report0.outcome).toBe('override-allowed');
    expect(report0.results[0]!.policy?.policy).toBe('NetworkPolicy/batch/report-egress');
  });
});
