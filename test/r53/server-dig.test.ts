// The emulator as a real DNS server, queried with the real dig over UDP and TCP on loopback.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runR53EmulatorCommand } from '../../src/r53/command.js';
import type { QueryLogEntry } from '../../src/r53/query-log.js';
import { startEmulator } from '../../src/r53/server.js';
import type { RunningEmulator } from '../../src/r53/server.js';
import { parseZones } from '../../src/r53/zone-load.js';
import { ZoneSet } from '../../src/r53/zone-model.js';
import { stringify } from 'yaml';
import { EXAMPLES, dig, exampleFirewall, exampleZones } from './helpers.js';

const bigZone = parseZones(
  stringify({
    zones: [
      {
        origin: 'big.test',
        records: [{ name: 'txt', type: 'TXT', values: Array.from({ length: 12 }, (_, i) => `${i}-${'x'.repeat(120)}`) }],
      },
    ],
  }),
  'big.yaml',
);
const zones = new ZoneSet([...exampleZones().zones, ...bigZone]);

let emulator: RunningEmulator;
const log: QueryLogEntry[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ zones, firewall: exampleFirewall(), host: '127.0.0.1', port: 0, onQuery: (e) => log.push(e) });
});
afterAll(async () => {
  await emulator?.close();
});

function lastLog(name: string, transport: string): QueryLogEntry | undefined {
  return [...log].reverse().find((e) => e.query_name === `${name}.` && e.transport === transport);
}

const transports = [
  { transport: 'UDP', tcp: false },
  { transport: 'TCP', tcp: true },
] as const;

const rows = [
  {
    what: 'no rule: plain answer',
    name: 'www.example.org.invalid', type: 'A', status: 'NXDOMAIN', answers: [], action: undefined,
  },
  {
    what: 'ALLOW', name: 'www.example.com', type: 'A', status: 'NOERROR',
    answers: ['www.example.com. 60 A 192.0.2.10', 'www.example.com. 60 A 192.0.2.11'], action: undefined,
  },
  {
    what: 'ALERT answers and logs', name: 'ads.example.org', type: 'A', status: 'NOERROR',
    answers: ['ads.example.org. 300 A 203.0.113.66'], action: 'ALERT', group: 'rslvr-frg-hygiene0000001', list: 'rslvr-fdl-ads00000000001',
  },
  {
    what: 'BLOCK NXDOMAIN', name: 'evil.example.org', type: 'A', status: 'NXDOMAIN', answers: [],
    action: 'BLOCK', group: 'rslvr-frg-security000001', list: 'rslvr-fdl-malware0000001',
  },
  {
    what: 'BLOCK NODATA on the CNAME target (INSPECT_REDIRECTION_DOMAIN)', name: 'api.example.com', type: 'A', status: 'NOERROR',
    answers: ['api.example.com. 300 CNAME api.cdn.example.net.', 'api.cdn.example.net. 300 CNAME edge.tracker.example.org.'],
    action: 'BLOCK', group: 'rslvr-frg-security000001', list: 'rslvr-fdl-tracker0000001',
  },
  {
    what: 'BLOCK OVERRIDE with CNAME, override TTL and the target', name: 'legacy.example.com', type: 'A', status: 'NOERROR',
    answers: ['legacy.example.com. 30 CNAME portal.example.net.', 'portal.example.net. 300 A 198.51.100.80'],
    action: 'BLOCK', group: 'rslvr-frg-hygiene0000001', list: 'rslvr-fdl-legacy0000001',
  },
  {
    what: 'qtype filter: AAAA blocked NODATA', name: 'mail.example.com', type: 'AAAA', status: 'NOERROR', answers: [],
    action: 'BLOCK', group: 'rslvr-frg-hygiene0000001', list: 'rslvr-fdl-mail000000001',
  },
  {
    what: 'qtype filter: A passes', name: 'mail.example.com', type: 'A', status: 'NOERROR',
    answers: ['mail.example.com. 300 A 192.0.2.25'], action: undefined,
  },
  {
    what: 'wildcard record', name: 'x.apps.example.com', type: 'A', status: 'NOERROR',
    answers: ['x.apps.example.com. 300 A 192.0.2.50'], action: undefined,
  },
  { what: 'MX', name: 'example.com', type: 'MX', status: 'NOERROR', answers: ['example.com. 300 MX 10 mail.example.com.'], action: undefined },
];

describe.each(transports)('dig over $transport', ({ transport, tcp }) => {
  it.each(rows)('$what: $name $type -> $status', async (row) => {
    const r = await dig(emulator, row.name, row.type, { tcp });
    expect(r.status).toBe(row.status);
    expect(r.answers.map((a) => `${a.name} ${a.ttl} ${a.type} ${a.data}`)).toEqual(row.answers);
    expect(r.flags).toContain('qr');
    expect(r.flags).toContain('ra');
    expect(r.flags).not.toContain('aa');
    expect(r.flags).not.toContain('ad');
    const entry = lastLog(row.name, transport);
    expect(entry).toBeDefined();
    expect(entry!.rcode).toBe(row.status);
    expect(entry!.query_type).toBe(row.type);
    expect(entry!.srcaddr).toBe('127.0.0.1');
    expect(Number(entry!.srcport)).toBeGreaterThan(0);
    expect(entry!.answers.map((a) => `${a.Type} ${a.Rdata}`)).toEqual(
      r.answers.map((a) => `${a.type} ${a.data}`),
    );
    expect(entry!.firewall_rule_action).toBe(row.action);
    if (row.action) {
      expect(entry!.firewall_rule_group_id).toBe(row.group);
      expect(entry!.firewall_domain_list_id).toBe(row.list);
    } else {
      expect(entry!.firewall_rule_group_id).toBeUndefined();
    }
  });

  it('negative answers from the zones carry the SOA', async () => {
    const r = await dig(emulator, 'nope.example.com', 'A', { tcp });
    expect(r.status).toBe('NXDOMAIN');
    expect(r.authorities.map((a) => a.type)).toEqual(['SOA']);
    expect(r.authorities[0]!.name).toBe('example.com.');
  });

  it('DNSSEC: DO set, AD asked: no AD, no RRSIG, DNSKEY is NODATA', async () => {
    const r = await dig(emulator, 'www.example.com', 'A', { tcp, extra: ['+dnssec', '+adflag'] });
    expect(r.flags).not.toContain('ad');
    expect(r.answers.map((a) => a.type)).toEqual(['A', 'A']);
    expect(r.raw).toMatch(/; EDNS: version: 0, flags:;/);
    const k = await dig(emulator, 'example.com', 'DNSKEY', { tcp, extra: ['+dnssec'] });
    expect(k.status).toBe('NOERROR');
    expect(k.answers).toEqual([]);
  });
});

describe('UDP truncation and TCP fallback', () => {
  it('sets TC over UDP when the answer does not fit, TCP carries it whole', async () => {
    const udp = await dig(emulator, 'txt.big.test', 'TXT', { extra: ['+ignore', '+noedns'] });
    expect(udp.flags).toContain('tc');
    expect(udp.answers).toEqual([]);
    const tcp = await dig(emulator, 'txt.big.test', 'TXT', { tcp: true });
    expect(tcp.flags).not.toContain('tc');
    expect(tcp.answers).toHaveLength(12);
  });
});

describe('fail-open / fail-closed', () => {
  it('firewall down: SERVFAIL when closed, plain answer when open; back up: blocks again', async () => {
    try {
      emulator.setFailOpen('DISABLED');
      emulator.setFirewallAvailable(false);
      expect((await dig(emulator, 'evil.example.org', 'A')).status).toBe('SERVFAIL');
      expect((await dig(emulator, 'www.example.com', 'A', { tcp: true })).status).toBe('SERVFAIL');
      emulator.setFailOpen('ENABLED');
      const open = await dig(emulator, 'evil.example.org', 'A');
      expect(open.status).toBe('NOERROR');
      expect(open.answers.map((a) => a.data)).toEqual(['203.0.113.13']);
      expect(lastLog('evil.example.org', 'UDP')?.firewall_rule_action).toBeUndefined();
    } finally {
      emulator.setFirewallAvailable(true);
      emulator.setFailOpen('DISABLED');
    }
    expect((await dig(emulator, 'evil.example.org', 'A')).status).toBe('NXDOMAIN');
  });
});

describe('IPv6 listener', () => {
  it('answers on ::1 over UDP and TCP', async () => {
    const v6 = await startEmulator({ zones, firewall: exampleFirewall(), host: '::1', port: 0 });
    try {
      expect(v6.family).toBe('IPv6');
      for (const tcp of [false, true]) {
        expect((await dig(v6, 'evil.example.org', 'A', { tcp })).status).toBe('NXDOMAIN');
        const ok = await dig(v6, 'www.example.com', 'AAAA', { tcp });
        expect(ok.answers.map((a) => a.data)).toEqual(['2001:db8::10']);
      }
    } finally {
      await v6.close();
    }
  });
});

describe('runR53EmulatorCommand', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'r53-cmd-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('serves the example files, writes the query log, stops cleanly', async () => {
    const logFile = join(tmp, 'queries.jsonl');
    const lines: string[] = [];
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    let running!: RunningEmulator;
    const listening = new Promise<void>((resolve) => {
      void runR53EmulatorCommand(
        ['--zones', join(EXAMPLES, 'zones.yaml'), '--firewall', join(EXAMPLES, 'aws-cli', 'firewall-bundle.yaml'), '--listen', '127.0.0.1:0', '--query-log', logFile],
        { stderr: (l) => lines.push(l), stopped, onListening: (e) => ((running = e), resolve()) },
      ).then((code) => lines.push(`exit ${code}`));
    });
    await listening;
    const r = await dig(running, 'evil.example.org', 'A');
    expect(r.status).toBe('NXDOMAIN');
    const t = await dig(running, 'legacy.example.com', 'A', { tcp: true });
    expect(t.answers.map((a) => `${a.type} ${a.ttl} ${a.data}`)).toEqual(['CNAME 60 portal.example.net.', 'A 300 198.51.100.80']);
    stop();
    await expect.poll(() => lines.at(-1)).toBe('exit 0');
    expect(lines.some((l) => l.startsWith('warning: ') && l.includes('block-dga'))).toBe(true);
    expect(lines.some((l) => /listening on 127\.0\.0\.1:\d+ \(udp, tcp\)/.test(l))).toBe(true);
    const entries = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as QueryLogEntry);
    expect(entries.map((e) => [e.query_name, e.transport, e.rcode, e.firewall_rule_action])).toEqual([
      ['evil.example.org.', 'UDP', 'NXDOMAIN', 'BLOCK'],
      ['legacy.example.com.', 'TCP', 'NOERROR', 'BLOCK'],
    ]);
    expect(entries[0]).toMatchObject({
      version: '1.100000',
      account_id: '123456789012',
      region: 'eu-west-1',
      vpc_id: 'vpc-0a1b2c3d4e5f60718',
      query_class: 'IN',
      firewall_rule_group_id: 'rslvr-frg-0f1e2d3c4b5a69788',
      firewall_domain_list_id: 'rslvr-fdl-4d5e6f7a8b9c0d1e',
      srcids: { instance: expect.any(String) },
    });
    expect(entries[0]!.query_timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it.each([
    { args: ['--firewall', 'x.yaml'], message: /--zones and --firewall are required/ },
    { args: ['--zones', 'z', '--firewall', 'f', '--listen', '::1'], message: /needs brackets/ },
    { args: ['--zones', 'z', '--firewall', 'f', '--fail-open', 'MAYBE'], message: /--fail-open must be/ },
    { args: ['--bogus'], message: /Unknown option/ },
  ])('rejects bad usage: $args', async ({ args, message }) => {
    const lines: string[] = [];
    expect(await runR53EmulatorCommand(args, { stderr: (l) => lines.push(l), stopped: Promise.resolve() })).toBe(2);
    expect(lines.join('\n')).toMatch(message);
  });

  it('a config error exits 2 naming the file and field', async () => {
    const lines: string[] = [];
    const fw = join(tmp, 'fw.yaml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(fw, 'ruleGroups: [{ name: g, rules: [{ name: r, priority: 1, domainList: nope, action: ALLOW }] }]\nassociations: []\n');
    const code = await runR53EmulatorCommand(['--zones', join(EXAMPLES, 'zones.yaml'), '--firewall', fw], { stderr: (l) => lines.push(l), stopped: Promise.resolve() });
    expect(code).toBe(2);
    expect(lines.join('\n')).toContain(`${fw}: ruleGroups[0].rules[0].domainList: no domain list with id or name "nope"`);
  });
});
