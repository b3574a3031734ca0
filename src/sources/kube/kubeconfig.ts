// Where the agent's API credentials come from: the pod's service account (in-cluster), a kubeconfig
// file, or client-node's default search ($KUBECONFIG, ~/.kube/config, then in-cluster).
import { KubeConfig } from '@kubernetes/client-node';

export type KubeConfigSource =
  | { mode: 'in-cluster'; /** Test hook: prefix of the service account directory. */ pathPrefix?: string }
  | { mode: 'file'; path: string; context?: string }
  | { mode: 'default' };

export class KubeConfigError extends Error {
  readonly source: KubeConfigSource;
  constructor(source: KubeConfigSource, detail: string) {
    super(`cannot load Kubernetes credentials (${source.mode}): ${detail}`);
    this.name = 'KubeConfigError';
    this.source = source;
  }
}

export function loadKubeConfig(source: KubeConfigSource): KubeConfig {
  const kc = new KubeConfig();
  try {
    switch (source.mode) {
      case 'in-cluster':
        if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT)
          throw new Error('KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not running in a pod?)');
        kc.loadFromCluster(source.pathPrefix);
        break;
      case 'file':
        kc.loadFromFile(source.path);
        if (source.context) kc.setCurrentContext(source.context);
        break;
      case 'default':
        kc.loadFromDefault();
        break;
    }
  } catch (e) {
    throw new KubeConfigError(source, (e as Error).message);
  }
  if (!kc.getCurrentCluster()) throw new KubeConfigError(source, 'no current cluster');
  return kc;
}
