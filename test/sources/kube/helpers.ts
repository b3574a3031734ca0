// Shared plumbing of the Kubernetes source tests: a stand-in plus a source connected to it.
import { KubeClusterSource, type KubeSourceOptions } from '../../../src/sources/kube/index.js';
import type { StateChange } from '../../../src/sources/types.js';
import { kubeConfigFor, testCert } from '../../support/kube-apiserver/client-config.js';
import { KubeApiStandIn, type StandInOptions } from '../../support/kube-apiserver/server.js';

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface Rig {
  api: KubeApiStandIn;
  source: KubeClusterSource;
  changes: StateChange[];
  close(): Promise<void>;
}

export const FAST = { backoff: { initialMs: 20, maxMs: 200 }, crdRecheckMs: 100, coalesceMs: 20 } satisfies Partial<KubeSourceOptions>;

/** Starts a stand-in (seeded by `seed`) and a source on it; the source is started unless told not to. */
export async function rig(opts: { standIn?: StandInOptions; source?: Partial<KubeSourceOptions>; seed?: (api: KubeApiStandIn) => void; start?: boolean } = {}): Promise<Rig> {
  const tls = testCert();
  const api = new KubeApiStandIn({ tls, ...opts.standIn });
  const url = await api.start();
  opts.seed?.(api);
  const source = new KubeClusterSource({ kubeConfig: kubeConfigFor(url, tls.cert), ...FAST, ...opts.source });
  const changes: StateChange[] = [];
  source.onChange((c) => changes.push(c));
  if (opts.start !== false) await source.start();
  return {
    api,
    source,
    changes,
    close: async () => {
      await source.stop();
      await api.stop();
    },
  };
}
