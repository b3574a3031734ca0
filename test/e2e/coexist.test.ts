// `dnsgate coexist` against the real thing on a node: a real agent (eBPF datapath, nftables DNS
// redirection, its DNS proxy) in front of the Route 53 emulator, pods in network namespaces. For
// every (pod, name) of the report computed by analyzeCoexistence on the same files
// (test/e2e/fixtures/coexist/), what the pod observes must be what was predicted:
// - dig through the pod's resolv.conf: the rcode and the answer records, A and AAAA;
// - what the proxy learned from that answer (its learned-entry counters; a firewall block
//   programs nothing);
// - a TCP/443 connection to every address the pod got: connected iff the predicted policy allows
//   TCP/443, with the agent's decision line naming the predicted tier and policy; when the pod got
//   no address (firewall BLOCK), a connection to the zone's own address is dropped or passed as the
//   evaluator says with nothing learned, so a policy-allowed but firewall-blocked name opens nothing.
// Every name has its own address (zones.yaml), so no row's learning can open another row's address.
// Three node runs: the fixture firewall, and the same rules with the firewall unavailable (failing
// closed, failing open). A note on what is not observed: the emulator's ALERT query-log line (the
// harness does not expose the emulator's output); ALERT rows are checked as answered and reachable.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { loadManifests } from '../../src/api/load.js';
import type { ClusterState } from '../../src/api/types.js';
import { Evaluator } from '../../src/policy/evaluate.js';
import { analyzeCoexistence, parseNamesFile, runCoexistCommand, userNames } from '../../src/r53/coexist/index.js';
import type { CoexistReport, PodRcode, Row, TypeResult } from '../../src/r53/coexist/index.js';
import { loadFirewallFile } from '../../src/r53/config-load.js';
import { loadZoneFiles } from '../../src/r53/zone-load.js';
import { E2eNode, KUBE_DNS, REPO, needRoot, type DecisionLine } from './node.js';

const FIXTURES = join(REPO, 'test/e2e/fixtures/coexist');
const CLUSTER = join(FIXTURES, 'cluster.yaml');
const ZONES = join(FIXTURES, 'zones.yaml');
const FIREWALL = join(FIXTURES, 'firewall.yaml');
const NAMES = join(FIXTURES, 'names.txt');
const MANIFESTS = [CLUSTER, KUBE_DNS];
/** The address E2eNode's agent forwards to (its `dns.upstreams`); the emulator must listen there. */
const UPSTREAM_V4 = '10.250.53.53';
const PORT = 443;
const PORT_LABEL = `TCP/${PORT}`;

/** The prediction, computed before any namespace exists (it.each needs the rows at collection). */
async function predict(firewallFile: string): Promise<{ state: ClusterState; report: CoexistReport }> {
  const { state, problems } = await loadManifests(MANIFESTS);
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) throw new Error(`fixture manifests rejected: ${JSON.stringify(errors)}`);
  const { config } = await loadFirewallFile(firewallFile);
  const zones = await loadZoneFiles([ZONES]);
  const names = userNames(parseNamesFile(readFileSync(NAMES, 'utf8')), NAMES);
  return { state, report: analyzeCoexistence({ state, firewall: config, zones, names }) };
}

/**
 * The fixture firewall, and the same rules with the firewall unavailable (failing closed: SERVFAIL;
 * failing open: plain answers), written to a temporary file the emulator and the prediction share.
 */
const VARIANT_DIR = mkdtempSync(join(tmpdir(), 'dnsgate-e2e-coexist-'));
function firewallVariant(label: string, settings: Record<string, unknown>): string {
  if (Object.keys(settings).length === 0) return FIREWALL;
  const doc = parseYaml(readFileSync(FIREWALL, 'utf8')) as { settings?: Record<string, unknown> };
  const file = join(VARIANT_DIR, `${label.replace(/\W+/g, '-')}.yaml`);
  writeFileSync(file, toYaml({ ...doc, settings: { ...doc.settings, ...settings } }));
  return file;
}

interface Variant {
  label: string;
  firewallFile: string;
  state: ClusterState;
  report: CoexistReport;
  /** One observed (pod, name) per pod of each subject: the grouping into subjects is checked too. */
  cases: [string, string, string, Row][];
}

async function variant(label: string, settings: Record<string, unknown>): Promise<Variant> {
  const firewallFile = firewallVariant(label, settings);
  const { state, report } = await predict(firewallFile);
  const cases = report.rows.flatMap((row) => {
    const subject = report.subjects.find((s) => s.id === row.subject);
    if (!subject) throw new Error(`report row for unknown subject ${row.subject}`);
    return subject.pods.map((pod): [string, string, string, Row] => [pod, row.name, row.outcome, row]);
  });
  return { label, firewallFile, state, report, cases };
}

const VARIANTS: Variant[] = [
  await variant('firewall available', {}),
  await variant('firewall down, failing closed', { firewallAvailable: false, failOpen: 'DISABLED' }),
  await variant('firewall down, failing open', { firewallAvailable: false, failOpen: 'ENABLED' }),
];
const BASE = VARIANTS[0]!;

/** Every address any observation may connect to: the answers and the zones' own addresses. */
function reportAddresses(r: CoexistReport): string[] {
  const all = r.rows.flatMap((row) =>
    row.results.flatMap((t) => [...t.dns.answers.filter((a) => a.type === 'A' || a.type === 'AAAA').map((a) => a.data), ...(t.intended?.addresses ?? [])]),
  );
  return [...new Set(all)].sort();
}

interface Observed {
  rcode: string;
  answers: string[];
}

const dropDot = (s: string): string => s.replace(/\.$/, '');
const record = (name: string, type: string, ttl: number, data: string): string => `${dropDot(name)} ${type} ${ttl} ${dropDot(data)}`;

/** What the pod's resolver sees, in dig's words (NOERROR-NODATA is NOERROR with no answer). */
function expectedAnswer(t: TypeResult): Observed {
  const rcode: PodRcode = t.dns.rcode;
  return { rcode: rcode === 'NOERROR-NODATA' ? 'NOERROR' : rcode, answers: t.dns.answers.map((a) => record(a.name, a.type, a.ttl, a.data)) };
}

function parseDig(stdout: string): Observed {
  const status = /status: ([A-Z]+)/.exec(stdout);
  const answers = stdout
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith(';'))
    .map((l) => {
      const [name, ttl, , type, ...data] = l.trim().split(/\s+/);
      return record(name ?? '', type ?? '', Number(ttl), data.join(' '));
    });
  return { rcode: status?.[1] ?? `no status in: ${stdout}`, answers };
}

afterAll(() => rmSync(VARIANT_DIR, { recursive: true, force: true }));

describe('the coexist fixtures and their predictions', () => {
  it('the available firewall covers every case the issue names', () => {
    const { report, cases } = BASE;
    const kinds = new Set(report.rows.map((r) => r.outcome));
    for (const k of ['reachable', 'alert-only', 'blocked-by-firewall', 'blocked-by-policy', 'override-allowed', 'override-denied'] as const) expect(kinds).toContain(k);
    const blockRcodes = new Set(report.rows.filter((r) => r.outcome === 'blocked-by-firewall').map((r) => r.results[0]?.dns.rcode));
    expect([...blockRcodes].sort()).toEqual(['NOERROR-NODATA', 'NXDOMAIN']);
    // A name the policy allows (a pattern matches) that the firewall blocks: the dead rule.
    expect(report.rows.some((r) => r.outcome === 'blocked-by-firewall' && r.patterns.length > 0)).toBe(true);
    // Some subject groups several pods, and each of them is observed.
    expect(cases.length).toBeGreaterThan(report.rows.length);
  });

  it('a firewall down fails closed with SERVFAIL for every name, or open with no firewall outcome at all', () => {
    const [, closed, open] = VARIANTS;
    expect(new Set(closed!.report.rows.flatMap((r) => r.results.map((t) => t.dns.rcode)))).toEqual(new Set(['SERVFAIL']));
    expect(open!.report.rows.filter((r) => r.results.some((t) => t.firewall.verdict !== 'ANSWER' || t.firewall.action !== null))).toEqual([]);
  });

  it.each(VARIANTS.map((v) => [v.label, v] as const))('`dnsgate coexist -o json` on the same files prints the same report (%s)', async (_label, v) => {
    let out = '';
    const errors: string[] = [];
    const code = await runCoexistCommand(['-f', ...MANIFESTS, '--firewall', v.firewallFile, '--zones', ZONES, '--names', NAMES, '-o', 'json'], {
      stdout: (text) => void (out += text),
      stderr: (line) => void errors.push(line),
    });
    expect({ code, errors }).toEqual({ code: 0, errors: [] });
    expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(v.report)));
  });
});

describe.skipIf(!needRoot).each(VARIANTS)('e2e: dnsgate coexist prediction = what pods observe through the agent in front of the Route 53 emulator ($label)', ({ firewallFile, state, report, cases }) => {
  const evaluator = new Evaluator(state);
  let node: E2eNode;
  let metricsUrl: string;

  beforeAll(async () => {
    node = await E2eNode.create({
      manifests: MANIFESTS,
      zone: [],
      harness: {
        upstream: { ipv4: UPSTREAM_V4, r53: { zoneFiles: [ZONES], firewallFile } },
        outside: { addresses: reportAddresses(report), tcpPorts: [PORT], udpPorts: [] },
        execTimeoutMs: 20_000,
      },
    });
    const http = await node.waitLog((l) => l.event === 'http_listening');
    metricsUrl = `http://${String(http.address)}/metrics`;
  }, 180_000);
  afterAll(async () => {
    await node?.destroy();
  }, 60_000);

  /** The proxy's learned-entry counter (added) and the datapath's learned entries, from /metrics. */
  async function learnedCounters(): Promise<{ added: number; programmed: number }> {
    const r = await node.h.execNode(['curl', '-sS', '-m', '5', metricsUrl]);
    if (r.code !== 0) throw new Error(`GET ${metricsUrl}: ${r.stderr}`);
    // A labelled series appears with its first increment: absent = 0, but only if the family exists.
    const value = (family: string, label: string): number => {
      if (!r.stdout.includes(`# TYPE ${family} `)) throw new Error(`${family} not in ${metricsUrl}`);
      const line = r.stdout.split('\n').find((l) => l.startsWith(`${family}{${label}} `));
      return line === undefined ? 0 : Number(line.split(' ')[1]);
    };
    return { added: value('dnsgate_dns_learned_total', 'kind="added"'), programmed: value('dnsgate_datapath_entries', 'kind="learned"') };
  }

  async function dig(pod: string, name: string, qtype: string): Promise<Observed> {
    const r = await node.exec(pod, ['dig', '+time=2', '+tries=2', '+noall', '+comments', '+answer', `${name}.`, qtype]);
    expect(r.code, `dig ${name} ${qtype} from ${pod}: ${r.stdout}${r.stderr}`).toBe(0);
    return parseDig(r.stdout);
  }

  /** The first decision line for pod -> ip:PORT logged after `since` (log index). */
  async function decisionAfter(since: number, pod: string, ip: string): Promise<DecisionLine> {
    const end = Date.now() + 5000;
    for (;;) {
      const hit = node.logs.slice(since).find((l): l is DecisionLine => l.event === 'decision' && l.pod === pod && l.dst === ip && l.dport === PORT);
      if (hit) return hit;
      if (Date.now() > end) throw new Error(`no decision line for ${pod} -> ${ip}:${PORT}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  async function connect(pod: string, ip: string): Promise<{ connected: boolean; decision: DecisionLine }> {
    const since = node.logs.length;
    const r = await node.curl(pod, `http://${ip}:${PORT}/`);
    // 28 = timed out: a denied SYN is dropped silently (SEMANTICS.md 6), never refused.
    if (!r.ok) expect(r.code, `curl ${pod} -> ${ip}: ${r.stderr}`).toBe(28);
    else expect(r.body).toBe(`outside ${ip} port ${PORT} from ${node.h.pod(pod).ipv4}`);
    return { connected: r.ok, decision: await decisionAfter(since, pod, ip) };
  }

  it.each(cases)('%s %s: predicted %s', async (pod, name, _outcome, row) => {
    for (const t of row.results) {
      const before = await learnedCounters();
      expect(await dig(pod, name, t.qtype), `${pod} ${name} ${t.qtype}`).toEqual(expectedAnswer(t));
      const after = await learnedCounters();
      expect(after.added - before.added, `${pod} ${name} ${t.qtype}: entries learned`).toBe(t.learned.length);
      // Learned entries are programmed before the answer is released (SEMANTICS.md 5).
      if (t.learned.length === 0) expect(after.programmed, `${pod} ${name} ${t.qtype}: programmed`).toBe(before.programmed);
      else expect(after.programmed, `${pod} ${name} ${t.qtype}: programmed`).toBeGreaterThan(before.programmed);
    }

    const a = row.results.find((t) => t.qtype === 'A');
    if (!a) throw new Error(`no A result for ${row.subject} ${name}`);
    if (a.policy !== null) {
      // The pod got addresses: connecting works exactly when the prediction allows TCP/443.
      expect(a.policy.addressesKnown).toBe(true);
      const allowed = a.policy.allowedPorts.includes(PORT_LABEL);
      for (const ip of a.policy.addresses) {
        const { connected, decision } = await connect(pod, ip);
        expect({ connected, decision: decision.decision }, `${pod} -> ${ip} (${name})`).toEqual({ connected: allowed, decision: allowed ? 'allow' : 'deny' });
        expect(decision.tier, `${pod} -> ${ip}: deciding tier`).toBe(a.policy.tier);
        if (allowed) expect({ policy: decision.policy, rule: decision.rule }, `${pod} -> ${ip}: deciding rule`).toEqual({ policy: a.policy.policy, rule: a.policy.rule });
      }
    } else {
      // No address (firewall BLOCK): the zone's own address stays as closed as with nothing learned.
      expect(a.intended, `${row.subject} ${name}: the zone's own verdict`).not.toBeNull();
      for (const ip of a.intended!.addresses) {
        const oracle = evaluator.evaluate({ from: pod, to: ip, protocol: 'TCP', port: PORT }, { mode: report.mode, now: Date.now(), learned: [] }).egress;
        const { connected, decision } = await connect(pod, ip);
        expect({ connected, decision: decision.decision, tier: decision.tier }, `${pod} -> ${ip} (${name}, blocked by the firewall)`).toEqual({
          connected: oracle.verdict === 'Allow',
          decision: oracle.verdict === 'Allow' ? 'allow' : 'deny',
          tier: oracle.tier,
        });
      }
    }
  }, 60_000);
});
