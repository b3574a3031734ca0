// `dnsgate demo` (run by `npm run demo`): for each chosen example, a node made of namespaces
// (src/sandbox) with the example's pods, a zone giving its flows' names their addresses and servers
// on those addresses, a real `dnsgate agent` (eBPF datapath, nftables DNS redirection) in the node,
// and a tour of the example's flows.yaml done with real clients in the pods: curl for TCP (through
// the pod's resolv.conf when the flow names a domain), nc for UDP, ping for ICMP. Each attempt
// prints the verdict seen by the client and the reason from the agent's decision log, next to what
// `dnsgate explain` predicts. The last example's node then stays up for poking by hand until
// Ctrl-C (unless non-interactive), and everything is removed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { loadManifests } from '../api/load.js';
import type { ClusterState } from '../api/types.js';
import { Evaluator, type Flow, type FlowVerdict } from '../policy/index.js';
import { Harness, run, type ZoneRecord } from '../sandbox/index.js';
import { AgentProcess, dnsgateArgv, type DecisionLogLine } from './agent-process.js';
import { parseFlows } from './flows-file.js';

export const DEFAULT_TOUR = ['sun-moon-stars', 'access-to-s3', 'access-to-dynamodb', 'block-instance-metadata-service', 'moon-backend-egress'];

const NODE_V4 = '10.250.255.1';
const NODE_V6 = 'fd00:250::1';
const UPSTREAM_V4 = '10.250.53.53';
const CLUSTER_DNS = '10.96.0.10';
const TIMEOUT_S = 2;

export interface DemoOptions {
  repo: string;
  examples: readonly string[];
  interactive: boolean;
  out: (line: string) => void;
}

interface Attempt {
  readonly flow: Flow;
  readonly expected: FlowVerdict;
  readonly phase: 0 | 1 | 2;
  /** Why it is not tried live, if not. */
  readonly skip?: string;
}

interface Outcome {
  readonly attempt: Attempt;
  readonly seen: 'Allow' | 'Deny' | 'error' | 'lookup failed';
  readonly detail: string;
  readonly decisions: DecisionLogLine[];
}

/** The pod's address of a family, from the cluster state. */
function podIps(state: ClusterState, ref: string): { v4?: string; v6?: string; hostNetwork: boolean } | undefined {
  const pod = state.pods.find((p) => `${p.metadata.namespace}/${p.metadata.name}` === ref);
  if (!pod) return undefined;
  const ips = [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p) => p.ip)].filter((x): x is string => !!x);
  return { v4: ips.find((i) => isIP(i) === 4), v6: ips.find((i) => isIP(i) === 6), hostNetwork: pod.spec.hostNetwork === true };
}

class ExampleNode {
  readonly state: ClusterState;
  readonly attempts: Attempt[];
  h: Harness | undefined;
  agent: AgentProcess | undefined;
  readonly dir: string;
  readonly bpffs: string;
  private readonly configFile: string;

  constructor(
    readonly name: string,
    private readonly manifests: string[],
    state: ClusterState,
    flows: Flow[],
    /** A temporary directory of generated manifests, removed with the node. */
    private readonly generated: string,
  ) {
    this.state = state;
    const evaluator = new Evaluator(state);
    const now = Date.now();
    this.attempts = flows.map((flow) => {
      const expected = evaluator.evaluate(flow, { mode: 'standard', now, learned: [] });
      // Flows that must see nothing learned go first; then named flows expected to be denied
      // (before an allowed lookup could open the same address); then the allowed named ones.
      const phase = flow.fqdn === undefined ? 0 : expected.verdict === 'Deny' ? 1 : 2;
      return { flow, expected, phase, ...this.skipReason(flow) };
    });
    this.dir = mkdtempSync(join(tmpdir(), `dnsgate-demo-${name}-`));
    this.configFile = join(this.dir, 'agent.yaml');
    this.bpffs = `/sys/fs/bpf/dnsgate-demo-${process.pid}-${name}`;
  }

  private skipReason(flow: Flow): { skip?: string } {
    const from = podIps(this.state, flow.from);
    if (!from) return { skip: 'the source is not a pod of this node' };
    if (from.hostNetwork) return { skip: 'host-network source (not enforced, no namespace of its own)' };
    const dst = this.destination(flow);
    if (dst === undefined) return { skip: 'destination is a host-network pod' };
    const family = isIP(dst.ip);
    if ((family === 4 && !from.v4) || (family === 6 && !from.v6)) return { skip: `the pod has no IPv${family} address` };
    if (flow.protocol === 'SCTP') return { skip: 'no SCTP client' };
    return {};
  }

  /** The destination address, and whether it is a pod of the example. */
  destination(flow: Flow): { ip: string; pod?: string } | undefined {
    if (isIP(flow.to) !== 0) {
      const pod = this.state.pods.find((p) => [p.status?.podIP, ...(p.status?.podIPs ?? []).map((x) => x.ip)].includes(flow.to) && !p.spec.hostNetwork);
      return pod ? { ip: flow.to, pod: `${pod.metadata.namespace}/${pod.metadata.name}` } : { ip: flow.to };
    }
    const ips = podIps(this.state, flow.to);
    if (!ips || ips.hostNetwork) return undefined;
    const from = podIps(this.state, flow.from);
    const ip = (from?.v4 && ips.v4) || (from?.v6 && ips.v6) || ips.v4 || ips.v6;
    return ip ? { ip, pod: flow.to } : undefined;
  }

  async build(): Promise<void> {
    const tried = this.attempts.filter((a) => !a.skip);
    const zone: ZoneRecord[] = [];
    const outside = new Set<string>();
    const tcp = new Set<number>([80, 443]);
    const udp = new Set<number>([7]);
    const podPorts = new Map<string, { tcp: Set<number>; udp: Set<number> }>();
    for (const a of tried) {
      const dst = this.destination(a.flow)!;
      const port = a.flow.port;
      if (dst.pod) {
        const pp = podPorts.get(dst.pod) ?? { tcp: new Set(), udp: new Set() };
        if (port !== undefined) (a.flow.protocol === 'UDP' ? pp.udp : pp.tcp).add(port);
        podPorts.set(dst.pod, pp);
        continue;
      }
      if (a.flow.fqdn !== undefined) zone.push({ name: a.flow.fqdn, type: isIP(dst.ip) === 6 ? 'AAAA' : 'A', data: dst.ip, ttl: 300 });
      outside.add(dst.ip);
      if (port !== undefined) (a.flow.protocol === 'UDP' ? udp : tcp).add(port);
    }
    this.h = await Harness.create({
      state: this.state,
      nodeAddress: { ipv4: NODE_V4, ipv6: NODE_V6 },
      clusterDns: { ipv4: CLUSTER_DNS },
      upstream: { ipv4: UPSTREAM_V4, records: dedupe(zone) },
      outside: { addresses: [...outside], tcpPorts: [...tcp].sort((a, b) => a - b), udpPorts: [...udp].sort((a, b) => a - b) },
    });
    for (const [pod, ports] of podPorts) await this.listenInPod(pod, ports);
    writeFileSync(
      this.configFile,
      toYaml({
        manifests: this.manifests,
        datapath: 'ebpf',
        dns: { listen: [`${NODE_V4}:5353`, `[${NODE_V6}]:5353`], upstreams: [UPSTREAM_V4], clusterDnsIPs: [CLUSTER_DNS] },
        paths: { bpffs: this.bpffs, state: join(this.dir, 'state') },
        http: { listen: '127.0.0.1:9808' },
        log: { level: 'info', allowSample: 1 },
        reconcile: { debounceMs: 20 },
      }),
    );
    this.agent = new AgentProcess({ args: ['--config', this.configFile], ...(this.h.nodeNetns ? { netns: this.h.nodeNetns } : {}), logFile: join(this.dir, 'agent.log') });
    await this.agent.start();
  }

  /** Small TCP (answers one line) and UDP (echo) servers inside a destination pod. */
  private async listenInPod(ref: string, ports: { tcp: Set<number>; udp: Set<number> }): Promise<void> {
    const pod = this.h!.pod(ref);
    const code = `
const net=require('net'),dgram=require('dgram');
for (const p of ${JSON.stringify([...ports.tcp])}) net.createServer(s=>{s.on('error',()=>{});s.end('pod ${ref} port '+p+'\\n')}).listen(p,'::');
for (const p of ${JSON.stringify([...ports.udp])}) for (const t of ['udp4','udp6']) { const u=dgram.createSocket({type:t,ipv6Only:t==='udp6'}); u.on('message',(m,r)=>u.send(m,r.port,r.address)); u.bind(p); }
setTimeout(()=>process.stdout.write('ready\\n'),200);`;
    const child = spawn('ip', ['netns', 'exec', pod.netns, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (c) => reject(new Error(`listener in ${ref} exited (${String(c)})`)));
    });
  }

  async attempt(a: Attempt): Promise<Outcome> {
    const h = this.h!;
    const agent = this.agent!;
    const dst = this.destination(a.flow)!;
    const port = a.flow.port ?? 0;
    const from = a.flow.from;
    const v6 = isIP(dst.ip) === 6;
    const srcIp = v6 ? podIps(this.state, from)?.v6 : podIps(this.state, from)?.v4;
    const mark = agent.logs.length;
    const since = (pred: (l: DecisionLogLine) => boolean): DecisionLogLine[] =>
      agent.logs.slice(mark).filter((l): l is DecisionLogLine => l.event === 'decision' && pred(l as DecisionLogLine));
    if (a.flow.fqdn !== undefined) {
      // The lookup goes through the pod's resolv.conf (the cluster DNS address, redirected to
      // dnsgate), which learns the answer for this pod; the connection then goes to the flow's
      // address for that name.
      const lookup = await h.exec(from, ['getent', 'ahosts', a.flow.fqdn], { timeoutMs: 15_000 });
      if (lookup.code !== 0 || !lookup.stdout.split(/\s+/).includes(dst.ip)) {
        await agent.waitLog((l) => l.event === 'decision' && l.src === srcIp && l.dport === 53, 1500).catch(() => undefined);
        const dns = since((l) => l.src === srcIp && l.dport === 53 && l.decision === 'deny');
        return { attempt: a, seen: 'lookup failed', detail: dns.length > 0 ? `DNS to ${dns[0]!.dst}:53 dropped` : `getent: exit ${String(lookup.code)}`, decisions: dns };
      }
    }
    const target = v6 ? `[${dst.ip}]` : dst.ip;
    let argv: string[];
    if (a.flow.protocol === 'ICMP') argv = ['ping', '-c1', `-W${TIMEOUT_S}`, dst.ip];
    else if (a.flow.protocol === 'UDP') argv = ['sh', '-c', `printf dnsgate-demo | nc -u -w${TIMEOUT_S} ${dst.ip} ${port}`];
    else if (dst.pod) argv = ['nc', '-w', String(TIMEOUT_S), dst.ip, String(port)];
    else if (a.flow.fqdn !== undefined) argv = ['curl', '-sS', '-m', String(TIMEOUT_S), '--resolve', `${a.flow.fqdn}:${port}:${target}`, `http://${a.flow.fqdn}:${port}/`];
    else argv = ['curl', '-sS', '-m', String(TIMEOUT_S), `http://${target}:${port}/`];
    const started = Date.now();
    const r = await h.exec(from, argv, { timeoutMs: (TIMEOUT_S + 8) * 1000 });
    const out = r.stdout.trim();
    let seen: Outcome['seen'];
    if (a.flow.protocol === 'ICMP') seen = r.code === 0 ? 'Allow' : 'Deny';
    else if (a.flow.protocol === 'UDP') seen = out === 'dnsgate-demo' ? 'Allow' : 'Deny';
    else if (dst.pod) seen = out.startsWith('pod ') ? 'Allow' : Date.now() - started >= TIMEOUT_S * 1000 - 100 ? 'Deny' : 'error';
    else seen = r.code === 0 ? 'Allow' : r.code === 28 ? 'Deny' : 'error';
    const detail = seen === 'error' ? (r.stderr.trim() || out || `exit ${String(r.code)}`).split('\n')[0]! : seen === 'Deny' ? 'timed out' : out.split('\n')[0]!;
    const protocol = a.flow.protocol === 'ICMP' ? (v6 ? 'ICMPv6' : 'ICMP') : a.flow.protocol;
    const match = (l: DecisionLogLine): boolean => l.src === srcIp && l.dst === dst.ip && l.protocol === protocol && (a.flow.protocol === 'ICMP' || l.dport === port);
    // Decision events arrive asynchronously: give the agent a moment.
    await agent.waitLog((l) => agent.logs.indexOf(l) >= mark && l.event === 'decision' && match(l as DecisionLogLine), 1500).catch(() => undefined);
    return { attempt: a, seen, detail, decisions: since(match) };
  }

  async runTour(out: (line: string) => void): Promise<{ tried: number; differing: number; unresolved: number }> {
    let differing = 0;
    let tried = 0;
    let unresolved = 0;
    const outcomes = new Map<Attempt, Outcome>();
    for (const phase of [0, 1, 2] as const) {
      const batch = this.attempts.filter((a) => a.phase === phase && !a.skip);
      // Named flows expected to be denied run one at a time (one could learn what another uses).
      if (phase === 1) for (const a of batch) outcomes.set(a, await this.attempt(a));
      else for (const o of await Promise.all(batch.map((a) => this.attempt(a)))) outcomes.set(o.attempt, o);
    }
    for (const a of this.attempts) {
      const f = a.flow;
      const what = `${f.from} -> ${f.fqdn !== undefined ? `${f.fqdn} (${f.to})` : f.to} ${f.protocol}${f.port !== undefined ? `/${f.port}` : ''}`;
      if (a.skip) {
        out(`  -      ${what}\n           not tried live: ${a.skip}; explain: ${a.expected.verdict}`);
        continue;
      }
      tried++;
      const o = outcomes.get(a)!;
      if (o.seen === 'lookup failed') {
        // explain's flow assumes the lookup happened; here the policy itself blocks it.
        unresolved++;
        out(`  NO-DNS ${what}\n           the lookup failed (${o.detail}): the pod's policy allows no DNS, so the name can never be learned; explain assumes it was: ${a.expected.verdict}`);
        for (const d of dedupeDecisions(o.decisions)) out(`           ${d.pod} ${d.direction} to ${d.dst}:${d.dport}: ${d.tier ?? '-'} tier, ${d.policy ?? d.reason} (dropped)`);
        continue;
      }
      const agree = o.seen === a.expected.verdict;
      if (!agree) differing++;
      out(`  ${o.seen.toUpperCase().padEnd(6)} ${what}${agree ? '' : `   <-- explain says ${a.expected.verdict}`}`);
      const shown = o.decisions.filter((d) => o.seen !== 'Deny' || d.decision === 'deny');
      if (shown.length === 0) out(`           ${o.seen === 'Deny' ? 'dropped' : o.detail}; no decision event (a flow the datapath does not police, e.g. a pod to itself)`);
      for (const d of dedupeDecisions(shown)) {
        const by = d.policy !== null ? `${d.policy}${d.rule !== null ? ` rule ${String(d.rule)}` : ''}` : d.reason;
        out(`           ${d.pod} ${d.direction}: ${d.tier ?? '-'} tier, ${by}${d.decision === 'deny' ? ' (dropped: the client timed out)' : ''}`);
      }
    }
    return { tried, differing, unresolved };
  }

  instructions(out: (line: string) => void): void {
    const h = this.h!;
    const pods = h.pods.slice(0, 3);
    out(`\nThe node of examples/${this.name} is still running (Ctrl-C stops it and removes everything). Try:`);
    for (const p of pods) out(`  ip netns exec ${p.netns} curl -m2 http://<name-or-ip>:<port>/     # as ${p.ref}`);
    const named = this.attempts.find((a) => a.flow.fqdn !== undefined && !a.skip);
    if (named) out(`  ip netns exec ${h.pod(named.flow.from).netns} curl -m2 http://${named.flow.fqdn}:${named.flow.port ?? 80}/`);
    if (named) out(`  ip netns exec ${h.pod(named.flow.from).netns} dig ${named.flow.fqdn}          # answered by dnsgate via ${CLUSTER_DNS}`);
    out(`  tail -f ${join(this.dir, 'agent.log')} | grep '"event":"decision"'   # the decision log`);
    out(`  nsenter --net=/run/netns/${h.nodeNetns!} curl -s http://127.0.0.1:9808/metrics | grep dnsgate_`);
    out(`  nsenter --net=/run/netns/${h.nodeNetns!} nft list table inet dnsgate   # the DNS redirection`);
    out(`  Zone names: ${this.attempts.filter((a) => a.flow.fqdn).map((a) => a.flow.fqdn).filter((v, i, all) => all.indexOf(v) === i).join(', ') || '(none)'}`);
  }

  async destroy(): Promise<void> {
    try {
      await this.agent?.stop('SIGTERM');
      if (this.h) await run(dnsgateArgv(['agent', '--config', this.configFile, '--uninstall'], this.h.nodeNetns), { timeoutMs: 30_000 });
    } finally {
      rmSync(this.bpffs, { recursive: true, force: true });
      await this.h?.destroy();
      rmSync(this.dir, { recursive: true, force: true });
      rmSync(this.generated, { recursive: true, force: true });
    }
  }
}

function dedupe(records: ZoneRecord[]): ZoneRecord[] {
  const seen = new Set<string>();
  return records.filter((r) => {
    const k = `${r.name.toLowerCase().replace(/\.$/, '')}|${r.type}|${r.data}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function dedupeDecisions(list: DecisionLogLine[]): DecisionLogLine[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const k = `${d.pod}|${d.direction}|${d.decision}|${String(d.policy)}|${String(d.rule)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * The cluster DNS Service the pods' resolv.conf names (10.96.0.10), backed by the example's
 * kube-dns pods: its DNS rules select those pods, so (SEMANTICS.md 4) they also allow the
 * ClusterIP, which is where the datapath sees the query going before the DNAT.
 */
function kubeDnsManifest(state: ClusterState): string {
  const ips = state.pods
    .filter((p) => p.metadata.namespace === 'kube-system' && p.metadata.labels?.['k8s-app'] === 'kube-dns')
    .map((p) => p.status?.podIP)
    .filter((ip): ip is string => ip !== undefined && isIP(ip) === 4);
  const ports = [
    { name: 'dns', protocol: 'UDP', port: 53 },
    { name: 'dns-tcp', protocol: 'TCP', port: 53 },
  ];
  const docs = [
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'kube-dns', namespace: 'kube-system' }, spec: { clusterIP: CLUSTER_DNS, clusterIPs: [CLUSTER_DNS], selector: { 'k8s-app': 'kube-dns' }, ports: ports.map((p) => ({ ...p, targetPort: 53 })) } },
    ...(ips.length > 0
      ? [{ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'kube-dns-demo', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'kube-dns' } }, addressType: 'IPv4', endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })), ports }]
      : []),
  ];
  return docs.map((d) => toYaml(d)).join('---\n');
}

async function loadExample(repo: string, name: string): Promise<ExampleNode> {
  const dir = join(repo, 'examples', name);
  const own = [join(dir, 'cluster.yaml'), join(dir, 'policy.yaml')];
  const first = await loadManifests(own);
  const errors = first.problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) throw new Error(`examples/${name}: ${errors.map((e) => e.message).join('; ')}`);
  const kubeDns = join(mkdtempSync(join(tmpdir(), 'dnsgate-demo-dns-')), 'kube-dns.yaml');
  const manifests = first.state.services.some((s) => s.metadata.namespace === 'kube-system' && s.metadata.name === 'kube-dns') ? own : [...own, kubeDns];
  writeFileSync(kubeDns, kubeDnsManifest(first.state));
  const { state } = await loadManifests(manifests);
  const flowsFile = join(dir, 'flows.yaml');
  return new ExampleNode(name, manifests, state, parseFlows(readFileSync(flowsFile, 'utf8'), flowsFile), dirname(kubeDns));
}

/** Runs the tour; resolves with the process exit code. */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const { out } = opts;
  let current: ExampleNode | undefined;
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let differing = 0;
  let tried = 0;
  let unresolved = 0;
  try {
    for (const [i, name] of opts.examples.entries()) {
      if (interrupted) break;
      current = await loadExample(opts.repo, name);
      const readme = join(opts.repo, 'examples', name, 'README.md');
      let blurb = '';
      try {
        blurb = readFileSync(readme, 'utf8').split('\n').slice(1, 3).join(' ').trim();
      } catch {
        // no README
      }
      out(`\n=== examples/${name}${blurb ? `: ${blurb}` : ''}`);
      const started = Date.now();
      await current.build();
      out(`    node built, agent ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${current.h!.pods.length} pods, DNS via ${CLUSTER_DNS} redirected to dnsgate)`);
      const r = await current.runTour(out);
      tried += r.tried;
      differing += r.differing;
      unresolved += r.unresolved;
      const last = i === opts.examples.length - 1;
      if (!last || !opts.interactive) {
        await current.destroy();
        current = undefined;
      }
    }
    const noDns = unresolved > 0 ? `; ${unresolved} named flow(s) could not resolve because their policy allows no DNS` : '';
    out(`\n${tried} connection(s) tried live; ${differing === 0 ? 'every verdict matches `dnsgate explain`' : `${differing} verdict(s) differ from \`dnsgate explain\``}${noDns}.`);
    if (current && opts.interactive && !interrupted) {
      current.instructions(out);
      await new Promise<void>((resolve) => {
        if (interrupted) resolve();
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      out('\nCleaning up...');
    }
    return differing === 0 ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await current?.destroy();
  }
}
