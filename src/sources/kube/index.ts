// Public surface of the Kubernetes control-plane source.
export { KubeClusterSource, KubeSourceStoppedError, type KubeSourceOptions } from './cluster-source.js';
export { loadKubeConfig, KubeConfigError, type KubeConfigSource } from './kubeconfig.js';
export { KubeApiError, KubeProtocolError } from './errors.js';
export { KubeHttp } from './http.js';
export type { Admitted } from './object-store.js';
export type { KubeLogger } from './logger.js';
export { WATCHED_RESOURCES, type WatchedResource } from './resources.js';
export { LeaderElector, type LeaderElectionOptions } from './leader-election.js';
export { PolicyStatusWriter, desiredCondition, ACCEPTED, type AcceptedCondition, type StatusWriterOptions, type AdmissionFeed, type Leadership } from './status-writer.js';
