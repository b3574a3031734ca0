// The two ways an end-to-end node's agent learns the cluster: from the manifest files ('files'), or
// from the Kubernetes API stand-in filled with the same manifests ('kube', see kube-api.ts). Tables
// of scenarios run once per mode (`describe.each(SOURCE_MODES)`) and must assert the same results.
import { KubeApiLink } from './kube-api.js';
import { E2eNode, type E2eNodeOptions } from './node.js';

export type SourceMode = 'files' | 'kube';

export const SOURCE_MODES: readonly [SourceMode][] = [['files'], ['kube']];

/**
 * The node name the Kubernetes mode gives the agent when the options set none: the API source
 * needs one (it is the leader-election identity), and the fixtures put every pod on it.
 */
export const KUBE_NODE_NAME = 'node-a';

export interface ModeNode {
  node: E2eNode;
  /** The API stand-in (kube mode only); node.destroy() takes it down. */
  link: KubeApiLink | undefined;
}

/** An E2eNode whose agent reads `opts.manifests` in the given mode. */
export async function createModeNode(mode: SourceMode, opts: E2eNodeOptions): Promise<ModeNode> {
  if (mode === 'files') return { node: await E2eNode.create(opts), link: undefined };
  const link = await KubeApiLink.create(opts.manifests);
  try {
    const node = await E2eNode.create({ nodeName: KUBE_NODE_NAME, ...opts, kube: link.endpoint });
    return { node, link };
  } catch (err) {
    // E2eNode.create closes the link itself only once the endpoint was made; close() is idempotent.
    await link.close();
    throw err;
  }
}
