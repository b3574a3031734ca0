// Public surface of `dnsgate coexist`: the DNS policy vs Route 53 DNS Firewall analysis.
export { analyzeCoexistence } from './analyze.js';
export type { CoexistInput } from './analyze.js';
export { runCoexistCommand, COEXIST_USAGE } from './command.js';
export type { CoexistIo } from './command.js';
export { CoexistInputError } from './errors.js';
export { chainProblem, learnableAddresses } from './firewall-answer.js';
export { defaultNames, userNames, parseNamesFile, PROBE_LABEL } from './names.js';
export { PLACEHOLDER_ADDRESS } from './policy-check.js';
export { renderTable } from './render-table.js';
export type { PortProbe } from './subjects.js';
export type * from './types.js';
