// Typed errors of flow evaluation: each names the flow field at fault, for the CLI's exit-2 message.

export type FlowField = 'from' | 'to' | 'protocol' | 'port' | 'fqdn';

/** Any flow the evaluator cannot evaluate (bad input, not a verdict). */
export class FlowError extends Error {
  constructor(
    readonly field: FlowField,
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(`flow ${field} ${JSON.stringify(value)}: ${reason}`);
    this.name = 'FlowError';
  }
}

/** `from`/`to` names no pod of the state (or a pod without an IP), or is not an endpoint at all. */
export class UnknownEndpointError extends FlowError {
  constructor(field: 'from' | 'to', value: string, reason: string) {
    super(field, value, reason);
    this.name = 'UnknownEndpointError';
  }
}

/** A malformed flow: bad protocol or port, empty fqdn, endpoints of different IP families. */
export class InvalidFlowError extends FlowError {
  constructor(field: FlowField, value: unknown, reason: string) {
    super(field, value, reason);
    this.name = 'InvalidFlowError';
  }
}
