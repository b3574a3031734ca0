// Public surface of the DNS proxy room.
export { DnsProxy, type DnsProxyDeps, type BoundAddress } from './proxy.js';
export { DEFAULT_DNS_PROXY_CONFIG, resolveConfig, type DnsProxyConfig, type DnsProxyConfigInput, type ListenAddress } from './config.js';
export { StaticPolicyView, type PolicyView, type PodDnsPolicy } from './policy-view.js';
export type { QueryFilterMode } from './query-filter.js';
export { DnsMetrics, type QueryResult } from './metrics.js';
export { DnsConfigError, DnsWireError, ProgramError, UpstreamError } from './errors.js';
