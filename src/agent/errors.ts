// Typed failures of the agent: each names what it was about (a config field, an nft command, a
// lifecycle step) so the operator can act on the message alone.

/** A configuration value is missing, malformed or contradicts another one. */
export class AgentConfigError extends Error {
  override readonly name = 'AgentConfigError';
  constructor(
    /** Dotted path of the field as written in the YAML file (`dns.minTTL`), or the flag. */
    readonly field: string,
    readonly reason: string,
    /** Where the value came from: the config file path, `flag`, or `default`. */
    readonly origin?: string,
  ) {
    super(`${origin !== undefined ? `${origin}: ` : ''}${field}: ${reason}`);
  }
}

/** An `nft` invocation failed. */
export class RedirectError extends Error {
  override readonly name = 'RedirectError';
  constructor(
    readonly operation: 'apply' | 'remove' | 'probe',
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`nftables ${operation} failed (exit ${String(exitCode)}): ${stderr.trim() || 'no message'}`);
  }
}

/** A step of starting or stopping the agent failed. */
export class AgentLifecycleError extends Error {
  override readonly name = 'AgentLifecycleError';
  constructor(
    readonly step: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`agent ${step}: ${reason}`, options);
  }
}
