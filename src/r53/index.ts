// Public surface of the Route 53 Resolver DNS Firewall emulator.
export { decideFirewall, firstMatchingRule } from './decide.js';
export type { FirewallDecision, FirewallVerdict, RuleMatch } from './decide.js';
export { CompiledDomainList, GLUED_WILDCARD_READINGS, parseDomainEntry } from './domain-list.js';
export type { DomainEntry, GluedWildcard, MatchOptions } from './domain-list.js';
export { DEFAULT_SETTINGS, TRUST_REDIRECTION_SCOPES } from './firewall-model.js';
export type {
  BlockResponse,
  DomainList,
  EmulatorSettings,
  FailOpen,
  FirewallConfig,
  FirewallRule,
  RedirectionAction,
  RuleAction,
  RuleGroup,
  RuleGroupAssociation,
  TrustRedirectionScope,
} from './firewall-model.js';
export { firewallFromDocument } from './firewall-yaml.js';
export { importAwsCli } from './aws-cli-import.js';
export type { AwsCliDocuments, ImportResult, JsonDocument } from './aws-cli-import.js';
export { loadFirewallFile } from './config-load.js';
export { loadZoneFiles, parseZones } from './zone-load.js';
export { Zone, ZoneSet } from './zone-model.js';
export type { ResourceRecord } from './zone-model.js';
export { resolveName } from './resolve.js';
export { answerQuestion } from './engine.js';
export type { EngineAnswer } from './engine.js';
export { queryLogEntry, fileQueryLog } from './query-log.js';
export type { QueryLogEntry, QueryLogSink } from './query-log.js';
export { startEmulator } from './server.js';
export type { EmulatorCounters, EmulatorOptions, RunningEmulator } from './server.js';
export { TcpFrameReader } from './tcp-frames.js';
export { runR53EmulatorCommand, parseListen, R53_EMULATOR_USAGE } from './command.js';
export { R53ConfigError, ZoneError, ListenAddressError } from './errors.js';
