// Public surface of the reference evaluator and the shared policy model.
export { Evaluator, type EvaluatorOptions } from './evaluate.js';
export { FlowError, UnknownEndpointError, InvalidFlowError, type FlowField } from './errors.js';
export type { DirectionVerdict, EnforcementMode, EvalOptions, Flow, FlowProtocol, FlowVerdict, TierName, Verdict } from './verdict.js';
export { FLOW_PROTOCOLS } from './verdict.js';
export { LearnedIndex, learnedAt, type LearnedIP } from './learned.js';
export * from './model.js';
export * from './ip.js';
export * from './cidr.js';
export * from './selector.js';
export { ClusterIndex, NAMESPACE_NAME_LABEL, findNamedPort, findNamedPorts } from './cluster-index.js';
export type { NamedPort, NodeEntry, PodEntry, ServiceBackend, ServiceEntry } from './cluster-index.js';
export { lintPolicies, type LintFinding } from './lint.js';
export { peerCovers, portCovers, ruleCovers } from './coverage.js';
