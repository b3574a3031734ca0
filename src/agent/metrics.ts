// The agent's own metrics. They share one registry with the DNS proxy's, which /metrics serves.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DatapathCounters } from '../datapath/types.js';

const PROGRAM_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface AgentGaugeSources {
  datapath(): DatapathCounters | undefined;
  endpoints(): { enforced: number; pending: number };
  ready(): boolean;
}

export class AgentMetrics {
  readonly changeToProgrammed: Histogram;
  readonly reconciles: Counter<'result'>;
  readonly decisions: Counter<'direction' | 'verdict' | 'tier'>;
  readonly decisionLogSuppressed: Counter;
  readonly diagnostics: Gauge;
  readonly redirectInterfaces: Gauge;

  constructor(registry: Registry, sources: AgentGaugeSources) {
    const registers = [registry];
    this.changeToProgrammed = new Histogram({
      name: 'dnsgate_agent_change_to_programmed_seconds',
      help: 'From the first cluster change of a batch (or pod interface event) to the datapath holding its result',
      buckets: PROGRAM_BUCKETS,
      registers,
    });
    this.reconciles = new Counter({ name: 'dnsgate_agent_reconciles_total', help: 'Reconcile passes by result', labelNames: ['result'], registers });
    this.decisions = new Counter({
      name: 'dnsgate_agent_decisions_total',
      help: 'Datapath decision events received (denies all, allows sampled)',
      labelNames: ['direction', 'verdict', 'tier'],
      registers,
    });
    this.decisionLogSuppressed = new Counter({ name: 'dnsgate_agent_decision_log_suppressed_total', help: 'Decision log lines dropped by the per-second cap', registers });
    this.diagnostics = new Gauge({ name: 'dnsgate_agent_compile_diagnostics', help: 'Diagnostics of the current compilation (overflows, fallbacks)', registers });
    this.redirectInterfaces = new Gauge({ name: 'dnsgate_agent_redirect_interfaces', help: 'Pod interfaces whose DNS is redirected to the proxy', registers });
    new Gauge({
      name: 'dnsgate_agent_ready',
      help: '1 once the first full programming has completed',
      registers,
      collect() {
        this.set(sources.ready() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'dnsgate_agent_endpoints',
      help: 'Local pods by state (enforced: on an interface; pending: interface not known yet)',
      labelNames: ['state'],
      registers,
      collect() {
        const e = sources.endpoints();
        this.set({ state: 'enforced' }, e.enforced);
        this.set({ state: 'pending' }, e.pending);
      },
    });
    new Gauge({
      name: 'dnsgate_datapath_entries',
      help: 'Datapath entries by kind',
      labelNames: ['kind'],
      registers,
      collect() {
        const c = sources.datapath();
        if (!c) return;
        this.set({ kind: 'policy' }, c.policyEntries);
        this.set({ kind: 'learned' }, c.learnedEntries);
        this.set({ kind: 'learnedKeys' }, c.learnedKeys);
      },
    });
    new Gauge({
      name: 'dnsgate_datapath_verdicts',
      help: 'Packets (eBPF) or decisions (memory) by verdict since the datapath was loaded',
      labelNames: ['verdict'],
      registers,
      collect() {
        const c = sources.datapath();
        if (!c) return;
        this.set({ verdict: 'allow' }, c.allowed);
        this.set({ verdict: 'deny' }, c.denied);
      },
    });
  }
}
