// Typed errors of the namespace harness: every one names what it was doing and where.

export class SandboxError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SandboxError';
  }
}

/** A command (ip, sysctl, ...) failed; carries argv, netns, exit code and stderr. */
export class SandboxCommandError extends SandboxError {
  constructor(
    readonly argv: readonly string[],
    readonly netns: string | undefined,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${netns ? `[netns ${netns}] ` : ''}${argv.join(' ')} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim() || '(no output)'}`);
    this.name = 'SandboxCommandError';
  }
}

/** The harness options or the manifest cannot describe a buildable node. */
export class SandboxConfigError extends SandboxError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'SandboxConfigError';
  }
}

/** Building would touch something that is not the harness's own (root-mode address clash). */
export class SandboxConflictError extends SandboxError {
  constructor(
    readonly address: string,
    readonly existing: string,
  ) {
    super(`${address} is already reachable on this host (${existing}); the harness will not route it (pick another address or use node: 'own')`);
    this.name = 'SandboxConflictError';
  }
}

/** A server child (DNS, outside world) exited or did not become ready. */
export class SandboxChildError extends SandboxError {
  constructor(
    readonly child: string,
    message: string,
    readonly stderr: string,
  ) {
    super(`${child}: ${message}${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
    this.name = 'SandboxChildError';
  }
}
