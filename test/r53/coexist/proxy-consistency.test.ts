// The prediction against the real thing: for every (subject, name, type) of a report, the answer
// the pod gets through dnsgate's DNS proxy in front of the running emulator (rcode and answer
// records), what the proxy actually learns for that pod, and the evaluator's verdict on the
// addresses with those real learnings must equal what `dnsgate coexist` predicted.
//
// Runs on loopback (pods are source addresses 127.0.0.x). The network-namespace harness
// (src/sandbox) does not exist yet; the per-pod netns version of this test waits for it.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as dnsPacket from 'dns-packet';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadManifests } from '../../../src/api/load.js';
import { MemoryDatapath } from '../../../src/datapath/memory/memory-datapath.js';
import { DnsProxy } from '../../../src/dns/proxy.js';
import { StaticPolicyView } from '../../../src/dns/policy-view.js';
import { Evaluator } from '../../../src/policy/evaluate.js';
import type { ClusterState } from '../../../src/api/types.js';
import { analyzeCoexistence } from '../../../src/r53/coexist/index.js';
import type { CoexistReport, QueryType } from '../../../src/r53/coexist/index.js';
import { loadFirewallFile } from '../../../src/r53/config-load.js';
import type { FirewallConfig } from '../../../src/r53/firewall-model.js';
import { startEmulator } from '../../../src/r53/server.js';
import { parseZones } from '../../../src/r53/zone-load.js';
import { ZoneSet } from '../../../src/r53/zone-model.js';
import { EXAMPLE } from './helpers.js';
import { ALL_NAMES, testFirewall, testState, testZones } from './fixture.js';
import { userNames } from '../../../src/r53/coexist/index.js';

interface Wire {
  rcode: string;
  answers: string[];
}

function query(port: number, source: string, name: string, type: QueryType): Promise<Wire> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no answer for ${name} ${type} from ${source}`));
    }, 3000);
    socket.on('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      // dns-packet decodes rcode and ttl but its declarations omit them.
      const p = dnsPacket.decode(msg) as dnsPacket.DecodedPacket & { rcode: string };
      const answers = (p.answers ?? []) as unknown as { name: string; type: string; ttl: number; data: unknown }[];
      resolve({ rcode: p.rcode, answers: answers.map((a) => `${a.name} ${a.type} ${a.ttl} ${String(a.data)}`) });
    });
    socket.bind(0, source, () => {
      const id = Math.floor(Math.random() * 65535);
      socket.send(dnsPacket.encode({ id, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }] }), port, '127.0.0.1');
    });
  });
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function stack(zones: ZoneSet, firewall: FirewallConfig, report: CoexistReport) {
  const emulator = await startEmulator({ zones, firewall, host: '127.0.0.1', port: 0 });
  closers.push(() => emulator.close());
  const datapath = new MemoryDatapath();
  const view = new StaticPolicyView();
  const proxy = new DnsProxy(
    { listen: [{ host: '127.0.0.1', port: 0 }], upstreams: [`127.0.0.1:${emulator.port}`], upstreamTimeoutMs: 1000 },
    { view, datapath, logger: pino({ level: 'silent' }) },
  );
  const [bound] = await proxy.start();
  closers.push(() => proxy.close());
  // Each subject's representative pod gets a loopback source address and its domain rules.
  const sources = new Map<string, string>();
  report.subjects.forEach((s, i) => {
    const ip = `127.0.0.${i + 2}`;
    sources.set(s.id, ip);
    const patterns = new Map(report.rows.filter((r) => r.subject === s.id).flatMap((r) => r.patterns.map((p) => [`${p.policy}|${p.rule}|${p.pattern}`, p] as const)));
    const domainRules = [...patterns.values()].map((p) => ({ rule: `${p.policy}/egress/${String(p.rule)}`, pattern: p.pattern }));
    view.setPod([ip], { pod: s.id, domainRules, egressIsolated: true });
  });
  return { port: bound!.port, datapath, sources, emulator };
}

/** Asks every (subject, name, type) through the proxy and checks answer, learning and verdict. */
async function checkAgainstProxy(state: ClusterState, zones: ZoneSet, firewall: FirewallConfig, report: CoexistReport): Promise<number> {
  const { port, datapath, sources } = await stack(zones, firewall, report);
  const evaluator = new Evaluator(state);
  let checked = 0;
  for (const row of report.rows) {
    const source = sources.get(row.subject)!;
    for (const result of row.results) {
      const got = await query(port, source, row.name, result.qtype);
      const context = `${row.subject} ${row.name} ${result.qtype}`;
      expect(got.rcode, context).toBe(result.dns.rcode === 'NOERROR-NODATA' ? 'NOERROR' : result.dns.rcode);
      expect(got.answers, context).toEqual(result.dns.answers.map((a) => `${a.name} ${a.type} ${a.ttl} ${a.data}`));
      checked++;
    }
    // What the proxy learned for this pod under this name: exactly the predicted learnings.
    const learned = datapath.learnedOf(row.subject).filter((e) => e.name === row.name);
    expect(learned.map((e) => e.ip).sort(), `${row.subject} ${row.name} learned`).toEqual(
      [...new Set(row.results.flatMap((r) => r.learned.map((l) => l.ip)))].sort(),
    );
    // The evaluator with the proxy's real learnings agrees with the predicted policy verdict.
    const now = Date.now();
    const real = learned.map((e) => ({ pod: e.pod, name: e.name, ip: e.ip, expiresAt: e.expiresAt }));
    const subject = report.subjects.find((s) => s.id === row.subject)!;
    for (const result of row.results) {
      if (result.policy === null || !result.policy.addressesKnown) continue;
      const allowed = subject.ports.filter((label) => {
        const [protocol, portText] = label.split('/') as ['TCP' | 'UDP' | 'SCTP', string];
        return result.policy!.addresses.every(
          (ip) => evaluator.evaluate({ from: row.subject, to: ip, protocol, port: Number(portText) }, { mode: report.mode, now, learned: real }).egress.verdict === 'Allow',
        );
      });
      expect(allowed, `${row.subject} ${row.name} ${result.qtype} allowed ports`).toEqual(result.policy.allowedPorts);
    }
  }
  return checked;
}

describe('prediction = what the pod sees through the proxy', () => {
  it('the coexist example', async () => {
    const { state } = await loadManifests([join(EXAMPLE, 'cluster')]);
    const { config } = await loadFirewallFile(join(EXAMPLE, 'firewall.yaml'));
    const file = join(EXAMPLE, 'zones.yaml');
    const zones = new ZoneSet(parseZones(readFileSync(file, 'utf8'), file));
    const names = userNames([...readFileSync(join(EXAMPLE, 'names.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')), 'pastebin.example.org', 'status.example.com', 'mail.example.com', 'downloads.example.com', 'api.partner.example.com'], 'test');
    const report = analyzeCoexistence({ state, firewall: config, zones, names });
    const checked = await checkAgainstProxy(state, zones, config, report);
    expect(checked).toBe(report.rows.length * 2);
  });

  it.each([
    ['the outcome fixture', {}],
    ['the outcome fixture, firewall down and failing closed', { firewallAvailable: false }],
    ['the outcome fixture, firewall down and failing open', { firewallAvailable: false, failOpen: 'ENABLED' }],
    ['the outcome fixture, apex matched by wildcards', { wildcardMatchesApex: true }],
  ])('%s', async (_label, settings) => {
    const state = testState();
    const firewall = testFirewall({ settings });
    const zones = testZones();
    const report = analyzeCoexistence({ state, firewall, zones, names: userNames(ALL_NAMES, 'test') });
    expect(await checkAgainstProxy(state, zones, firewall, report)).toBe(report.rows.length * 2);
  });
});
