// bench:compile: full compilation of a 10k-pod, 1k-policy cluster for one node's 100 pods, then
// incremental recompiles (one pod added, one policy changed; with no goal of their own: one
// EndpointSlice changed, one Namespace relabelled, one Node changed) with the diff a backend would
// apply.
import type { ApplicationNetworkPolicy, ClusterState, Namespace, NetworkPolicy, Node, Pod, UpstreamClusterNetworkPolicy } from '../src/api/types.js';
import { emptyClusterState } from '../src/api/types.js';
import { Compiler, diff, diffSize } from '../src/compile/index.js';
import { type Headline, report } from './lib/report.js';
import { median, percentile } from './lib/stats.js';
import { pick, randomInt, seededRandom } from './lib/random.js';

const PODS = 10_000;
const NAMESPACES = 100;
const NODES = 100;
const POLICIES = 1_000;
const SERVICES = 500;
const rnd = seededRandom(42);

function ip(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

function pod(i: number, ns: number): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `p${i}`, namespace: `ns${ns}`, labels: { app: `a${i % 10}`, tier: i % 3 === 0 ? 'web' : 'db' } },
    spec: { nodeName: `n${Math.floor(i / NAMESPACES) % NODES}`, containers: [{ name: 'c', ports: [{ name: 'web', containerPort: 8080 }] }] },
    status: { podIP: ip(65536 + i) },
  };
}

function networkPolicy(i: number, port = 443): NetworkPolicy {
  const ns = `ns${i % NAMESPACES}`;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `np${i}`, namespace: ns },
    spec: {
      podSelector: { matchLabels: { app: `a${i % 10}` } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        { from: [{ podSelector: { matchLabels: { tier: 'web' } } }], ports: [{ port: 'web' }, { port: 8080 }] },
        { from: [{ namespaceSelector: { matchLabels: { team: `t${i % 5}` } }, podSelector: { matchLabels: { app: `a${(i + 1) % 10}` } } }] },
      ],
      egress: [
        { to: [{ podSelector: { matchLabels: { tier: 'db' } } }], ports: [{ protocol: 'TCP', port }] },
        { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '169.254.169.254/32'] } }], ports: [{ port: 443 }] },
        { ports: [{ protocol: 'UDP', port: 53 }] },
      ],
    },
  };
}

function anp(i: number): ApplicationNetworkPolicy {
  return {
    apiVersion: 'networking.k8s.aws/v1alpha1',
    kind: 'ApplicationNetworkPolicy',
    metadata: { name: `anp${i}`, namespace: `ns${i % NAMESPACES}` },
    spec: { podSelector: { matchLabels: { app: `a${i % 10}` } }, policyTypes: ['Egress'], egress: [{ to: [{ domainNames: [`api${i}.example.com`, `*.svc${i}.example.org`] }], ports: [{ port: 443 }] }] },
  };
}

function cnp(i: number): UpstreamClusterNetworkPolicy {
  return {
    apiVersion: 'policy.networking.k8s.io/v1alpha2',
    kind: 'ClusterNetworkPolicy',
    metadata: { name: `cnp${i}` },
    spec: {
      tier: i % 2 === 0 ? 'Admin' : 'Baseline',
      priority: i % 7,
      subject: { namespaces: { matchLabels: { team: `t${i % 5}` } } },
      egress: [
        { action: 'Deny', to: [{ networks: ['169.254.169.254/32', `172.${16 + (i % 16)}.0.0/16`] }] },
        { action: 'Pass', to: [{ namespaces: { matchLabels: { team: `t${(i + 1) % 5}` } } }] },
      ],
      ingress: [{ action: 'Accept', from: [{ namespaces: { matchLabels: { team: `t${(i + 2) % 5}` } } }], protocols: [{ tcp: { destinationPort: { number: 9090 } } }] }],
    },
  };
}

function buildState(): ClusterState {
  const s = emptyClusterState();
  s.namespaces = Array.from({ length: NAMESPACES }, (_, n) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns${n}`, labels: { team: `t${n % 5}` } } }));
  s.nodes = Array.from({ length: NODES }, (_, n) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: `n${n}`, labels: {} }, status: { addresses: [{ type: 'InternalIP', address: `192.168.${n >> 8}.${n & 255}` }] } }));
  s.pods = Array.from({ length: PODS }, (_, i) => pod(i, i % NAMESPACES));
  const nps = Math.round(POLICIES * 0.9);
  const anps = Math.round(POLICIES * 0.08);
  s.networkPolicies = Array.from({ length: nps }, (_, i) => networkPolicy(i));
  s.applicationNetworkPolicies = Array.from({ length: anps }, (_, i) => anp(i));
  s.clusterNetworkPolicies = Array.from({ length: POLICIES - nps - anps }, (_, i) => cnp(i));
  for (let k = 0; k < SERVICES; k++) {
    const ns = `ns${k % NAMESPACES}`;
    const backends = [0, 1, 2].map(() => randomInt(rnd, 0, PODS / NAMESPACES - 1) * NAMESPACES + (k % NAMESPACES));
    s.services.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc${k}`, namespace: ns }, spec: { clusterIP: `10.96.${k >> 8}.${k & 255}`, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
    s.endpointSlices.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `svc${k}-1`, namespace: ns, labels: { 'kubernetes.io/service-name': `svc${k}` } },
      addressType: 'IPv4',
      endpoints: backends.map((b) => ({ addresses: [ip(65536 + b)] })),
      ports: [{ name: 'http', port: 8080 }],
    });
  }
  return s;
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const state = buildState();
const rssBefore = process.memoryUsage().rss;
const fullTimes: number[] = [];
let compiler: Compiler | null = null;
for (let round = 0; round < 3; round++) {
  compiler = null;
  const t = process.hrtime.bigint();
  const c = new Compiler(state, { nodeName: 'n0' }, { mode: 'standard' });
  c.result();
  fullTimes.push(ms(t));
  compiler = c;
}
const live = compiler as Compiler;
let current = live.result();
const rssAfterFull = process.memoryUsage().rss;
const stats = { endpoints: current.endpoints.size, prefixes: 0, rules: 0, diagnostics: current.diagnostics.length };
for (const ep of current.endpoints.values()) for (const t of [ep.egress, ep.ingress]) for (const p of t.prefixes.values()) { stats.prefixes++; stats.rules += p.rules.length; }

// One pod added (a local one half the time, else on another node: then only its peers' tables
// change), then removed again; each step timed with its diff. pod() would put every new pod on n0,
// so the node is set explicitly. Each kind of step is reported on its own and the headline is the
// worst kind's median, so a cheap kind cannot hide an expensive one.
const podTimes: number[] = [];
const podDiffs: number[] = [];
const byKind: Record<'localAdd' | 'remoteAdd' | 'remove', number[]> = { localAdd: [], remoteAdd: [], remove: [] };
for (let k = 0; k < 40; k++) {
  const i = PODS + k;
  const p = pod(i, randomInt(rnd, 0, NAMESPACES - 1));
  p.spec.nodeName = k % 2 === 0 ? 'n0' : 'n1';
  for (const step of ['add', 'remove'] as const) {
    const t = process.hrtime.bigint();
    if (step === 'add') live.upsertPod(p);
    else live.removePod(`${p.metadata.namespace}/${p.metadata.name}`);
    const next = live.result();
    const d = diff(current, next);
    const took = ms(t);
    podTimes.push(took);
    byKind[step === 'remove' ? 'remove' : k % 2 === 0 ? 'localAdd' : 'remoteAdd'].push(took);
    podDiffs.push(diffSize(d));
    current = next;
  }
}

// One policy changed: a NetworkPolicy's egress port, back and forth.
const policyTimes: number[] = [];
const policyDiffs: number[] = [];
for (let k = 0; k < 40; k++) {
  const i = pick(rnd, Array.from({ length: 900 }, (_, j) => j));
  const t = process.hrtime.bigint();
  live.upsertPolicy(networkPolicy(i, k % 2 === 0 ? 8443 : 443));
  const next = live.result();
  const d = diff(current, next);
  policyTimes.push(ms(t));
  policyDiffs.push(diffSize(d));
  current = next;
}
// One EndpointSlice changed (a backend replaced), back and forth: no goal of its own, it shows the
// Service path costs about what a pod change does instead of a full recompile.
const sliceTimes: number[] = [];
for (let k = 0; k < 40; k++) {
  const slice = state.endpointSlices[randomInt(rnd, 0, SERVICES - 1)];
  if (!slice) continue;
  const edited = { ...slice, endpoints: [...slice.endpoints.slice(1), { addresses: [ip(65536 + randomInt(rnd, 0, PODS - 1))] }] };
  for (const s of [edited, slice]) {
    const t = process.hrtime.bigint();
    live.upsertEndpointSlice(s);
    const next = live.result();
    diff(current, next);
    sliceTimes.push(ms(t));
    current = next;
  }
}
// One Namespace relabelled (its team label moved on, then back): its 100 pods are re-selected,
// for subjects (which policies select them) and as peers (namespaceSelector rules elsewhere).
const nsTimes: number[] = [];
const nsDiffs: number[] = [];
for (let k = 0; k < 20; k++) {
  const ns = state.namespaces[randomInt(rnd, 0, NAMESPACES - 1)] as Namespace;
  const team = ns.metadata.labels?.['team'] ?? 't0';
  const moved: Namespace = { ...ns, metadata: { ...ns.metadata, labels: { team: `t${(Number(team.slice(1)) + 1) % 5}` } } };
  for (const n of [moved, ns]) {
    const t = process.hrtime.bigint();
    live.upsertNamespace(n);
    const next = live.result();
    const d = diff(current, next);
    nsTimes.push(ms(t));
    nsDiffs.push(diffSize(d));
    current = next;
  }
}
// One Node changed, by kind: this node's address (its 100 endpoints redone: node IP, implicit
// allow), another node relabelled (no rule here selects nodes: nothing to do), a status-only
// update (a heartbeat: ignored). Each back and forth.
const nodeKinds = { localAddress: [] as number[], remoteLabels: [] as number[], heartbeat: [] as number[] };
const n0 = state.nodes[0] as Node;
const n1 = state.nodes[1] as Node;
for (let k = 0; k < 20; k++) {
  const steps: [keyof typeof nodeKinds, Node][] = [
    ['localAddress', { ...n0, status: { addresses: [{ type: 'InternalIP', address: `192.168.200.${k}` }] } }],
    ['localAddress', n0],
    ['remoteLabels', { ...n1, metadata: { ...n1.metadata, labels: { zone: `z${k}` } } }],
    ['remoteLabels', n1],
    ['heartbeat', { ...n0, metadata: { ...n0.metadata, resourceVersion: String(k) } }],
  ];
  for (const [kind, n] of steps) {
    const t = process.hrtime.bigint();
    live.upsertNode(n);
    const next = live.result();
    diff(current, next);
    nodeKinds[kind].push(ms(t));
    current = next;
  }
}
const rssPeak = Math.max(rssAfterFull, process.memoryUsage().rss);

const full = median(fullTimes);
const kindMedians = { localAdd: median(byKind.localAdd), remoteAdd: median(byKind.remoteAdd), remove: median(byKind.remove) };
const podMedian = Math.max(kindMedians.localAdd, kindMedians.remoteAdd, kindMedians.remove);
const policyMedian = median(policyTimes);
const rssMB = rssPeak / 1024 / 1024;
const headline: Headline = { metric: 'one pod added/removed, worst median of local add / remote add / remove, ms', value: podMedian, goal: 5, better: 'lower' };
const goals: Headline[] = [
  { metric: 'full compile ms (median of 3)', value: full, goal: 2000, better: 'lower' },
  { metric: 'one policy changed, median ms', value: policyMedian, goal: 5, better: 'lower' },
  { metric: 'RSS MB (peak)', value: rssMB, goal: 300, better: 'lower' },
];
report({
  benchmark: 'compile',
  headline,
  goals,
  results: {
    pods: PODS, policies: POLICIES, namespaces: NAMESPACES, nodes: NODES, services: SERVICES, localEndpoints: stats.endpoints,
    prefixes: stats.prefixes, rules: stats.rules, diagnostics: stats.diagnostics,
    fullCompileMs: fullTimes,
    podChangeMs: { median: median(podTimes), worstKindMedian: podMedian, ...Object.fromEntries(Object.entries(kindMedians).map(([k, v]) => [`${k}Median`, v])), p90: percentile(podTimes, 90), max: Math.max(...podTimes) },
    podChangeDiffEntries: { median: median(podDiffs), max: Math.max(...podDiffs) },
    policyChangeMs: { median: policyMedian, p90: percentile(policyTimes, 90), max: Math.max(...policyTimes) },
    policyChangeDiffEntries: { median: median(policyDiffs), max: Math.max(...policyDiffs) },
    sliceChangeMs: { median: median(sliceTimes), p90: percentile(sliceTimes, 90), max: Math.max(...sliceTimes) },
    namespaceRelabelMs: { median: median(nsTimes), p90: percentile(nsTimes, 90), max: Math.max(...nsTimes) },
    namespaceRelabelDiffEntries: { median: median(nsDiffs), max: Math.max(...nsDiffs) },
    nodeChangeMs: Object.fromEntries(Object.entries(nodeKinds).map(([k, v]) => [k, { median: median(v), p90: percentile(v, 90), max: Math.max(...v) }])),
    rssBeforeMB: rssBefore / 1024 / 1024, rssAfterFullMB: rssAfterFull / 1024 / 1024, rssPeakMB: rssMB,
  },
  rows: [
    { label: 'local endpoints / prefixes / rules', value: `${stats.endpoints} / ${stats.prefixes} / ${stats.rules}` },
    { label: 'full compile ms (3 runs)', value: fullTimes.map((x) => x.toFixed(0)).join(', ') },
    { label: 'pod change ms median / p90 / max', value: `${median(podTimes).toFixed(2)} / ${percentile(podTimes, 90).toFixed(2)} / ${Math.max(...podTimes).toFixed(2)}` },
    { label: 'pod change median ms: local add / remote add / remove', value: `${kindMedians.localAdd.toFixed(2)} / ${kindMedians.remoteAdd.toFixed(2)} / ${kindMedians.remove.toFixed(2)}` },
    { label: 'policy change ms median / p90 / max', value: `${policyMedian.toFixed(2)} / ${percentile(policyTimes, 90).toFixed(2)} / ${Math.max(...policyTimes).toFixed(2)}` },
    { label: 'EndpointSlice change ms median / p90 (no goal)', value: `${median(sliceTimes).toFixed(2)} / ${percentile(sliceTimes, 90).toFixed(2)}` },
    { label: 'Namespace relabel ms median / p90 (no goal)', value: `${median(nsTimes).toFixed(2)} / ${percentile(nsTimes, 90).toFixed(2)}` },
    { label: 'Node change median ms: local address / remote labels / heartbeat (no goal)', value: `${median(nodeKinds.localAddress).toFixed(2)} / ${median(nodeKinds.remoteLabels).toFixed(2)} / ${median(nodeKinds.heartbeat).toFixed(3)}` },
    { label: 'diff entries per pod / policy change (median)', value: `${median(podDiffs)} / ${median(policyDiffs)}` },
    { label: 'RSS MB peak', value: rssMB.toFixed(0) },
  ],
});
