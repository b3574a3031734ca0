// Public surface of the policy compiler.
export { Compiler, compile, type CompileOptions, type LocalPods } from './compiler.js';
export { diff, diffSize, type CompiledDiff, type PrefixRef, type PrefixWrite } from './diff.js';
export { interpret, lookupPrefix, type Outcome, type Packet } from './interpret.js';
export { LearnedSet } from './learned-set.js';
export { slotsForLearned, slotMatchesName } from './slots.js';
export { CompileDiagnostic, RuleListOverflow, AmbiguousFqdnOrder, PrefixMapOverflow, EndpointIdsExhausted } from './diagnostics.js';
export * from './types.js';
