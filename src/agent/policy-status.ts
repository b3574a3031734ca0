// With the Kubernetes source, exactly one agent tells users what became of their policies (an
// `Accepted` condition and, when invalid, an Event): a Lease elects it, and only that agent's
// status writer writes. Every agent campaigns; the others stand by to take over.
import type { Logger } from 'pino';
import { LeaderElector, PolicyStatusWriter, type KubeClusterSource } from '../sources/kube/index.js';
import type { AgentConfig } from './config.js';
import { AgentConfigError } from './errors.js';

/** A part the agent starts once the cluster source has synced and stops before the source. */
export interface AgentSidecar {
  start(): void;
  stop(): Promise<void>;
}

export interface PolicyStatusTiming {
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export class PolicyStatusPublisher implements AgentSidecar {
  readonly elector: LeaderElector;
  readonly writer: PolicyStatusWriter;
  private unsubscribe: (() => void) | undefined;

  constructor(source: KubeClusterSource, config: AgentConfig, logger: Logger, timing: PolicyStatusTiming = {}) {
    const identity = config.nodeName;
    if (identity === undefined) throw new AgentConfigError('nodeName', 'required with the Kubernetes API source: it is the leader-election identity');
    const log = logger.child({ part: 'policy-status' });
    this.elector = new LeaderElector(source.http, {
      namespace: config.kubernetes.leaseNamespace,
      name: config.kubernetes.leaseName,
      identity,
      logger: log,
      ...timing,
    });
    this.writer = new PolicyStatusWriter(source.http, source, this.elector, { identity, logger: log });
    this.log = log;
    this.lease = `${config.kubernetes.leaseNamespace}/${config.kubernetes.leaseName}`;
  }

  private readonly log: Logger;
  private readonly lease: string;

  get isLeader(): boolean {
    return this.elector.isLeader;
  }

  start(): void {
    this.unsubscribe = this.elector.onLeadershipChange((leading) =>
      this.log.info({ event: 'leadership', leading, lease: this.lease }, leading ? 'writing policy status (leader)' : 'no longer writing policy status'),
    );
    this.writer.start();
    this.elector.start();
  }

  /** Stops writing and hands the Lease back so another agent takes over without waiting it out. */
  async stop(): Promise<void> {
    await this.writer.stop();
    await this.elector.stop(true);
    this.unsubscribe?.();
  }
}
