// Opens the configured enforcement backend. The eBPF backend is imported only when chosen, so a
// `memory` agent (dry runs, tests without root) never loads the native binding.
import type { Datapath } from '../datapath/types.js';
import { MemoryDatapath } from '../datapath/memory/memory-datapath.js';
import type { AgentConfig } from './config.js';
import { AgentLifecycleError } from './errors.js';

/** A backend the agent can also uninstall (remove its programs and pins). */
export interface AgentDatapath extends Datapath {
  uninstall?(): Promise<void>;
}

/** `log.allowSample` (a ratio) as the eBPF backend's "about one in N" (0 = none). */
export function allowSampleEvery(ratio: number): number {
  return ratio <= 0 ? 0 : Math.max(1, Math.round(1 / ratio));
}

export interface OpenDatapathOptions {
  /**
   * Keep the learned entries found in pinned maps (eBPF): only when the compiler is seeded with
   * the previous compilation, so endpoint ids and FQDN slots mean what they meant.
   */
  readonly keepAdoptedLearned?: boolean;
}

export async function openDatapath(config: AgentConfig, opts: OpenDatapathOptions = {}): Promise<AgentDatapath> {
  if (config.datapath === 'memory') return new MemoryDatapath({ learnLogLimit: 0 });
  try {
    // Loaded (and its native binding with it) only when chosen.
    const { EbpfDatapath } = await import('../datapath/ebpf/index.js');
    return EbpfDatapath.open({ pinRoot: config.paths.bpffs, allowSample: allowSampleEvery(config.log.allowSample), keepAdoptedLearned: opts.keepAdoptedLearned === true });
  } catch (err) {
    throw new AgentLifecycleError('datapath', `cannot load the eBPF datapath (pins under ${config.paths.bpffs}): ${(err as Error).message}. Running as root with bpffs mounted and bpf/build/dnsgate.bpf.o built (scripts/prepare.sh)? --datapath memory runs without enforcement.`, { cause: err });
  }
}
