/** A DNS message could not be read: which part (`field`) at which byte offset, and why. */
export class DnsWireError extends Error {
  override readonly name = 'DnsWireError';
  constructor(
    readonly field: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`malformed DNS message: ${field} at offset ${offset}: ${reason}`);
  }
}

/** No upstream produced an acceptable answer for a query. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  constructor(
    readonly upstream: string,
    readonly transport: 'udp' | 'tcp',
    readonly reason: 'timeout' | 'closed' | 'socket' | 'busy' | 'shutdown',
    readonly attempts: number,
  ) {
    super(`upstream ${upstream} over ${transport}: ${reason} (after ${attempts} attempts)`);
  }
}

/** Learned entries for an answer could not be programmed in time; the pod gets SERVFAIL. */
export class ProgramError extends Error {
  override readonly name = 'ProgramError';
  constructor(
    readonly pod: string,
    readonly qname: string,
    readonly reason: 'timeout' | 'failed',
    override readonly cause?: unknown,
  ) {
    super(`programming learned entries for ${pod} ${qname}: ${reason}`);
  }
}

/** The proxy configuration is unusable (bad address, no upstreams, ...). */
export class DnsConfigError extends Error {
  override readonly name = 'DnsConfigError';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`dns proxy config: ${field}: ${reason}`);
  }
}
