// Typed failures of the eBPF backend, each naming the step and object it was working on; the
// libbpf-ts BpfError (op, errno, map, ...) that caused it is the `cause`.

function causeText(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** Loading or adopting the object and its pinned maps failed. */
export class EbpfLoadError extends Error {
  override readonly name = 'EbpfLoadError';
  constructor(
    readonly objectPath: string,
    readonly pinRoot: string,
    override readonly cause: unknown,
  ) {
    super(`loading ${objectPath} with maps pinned under ${pinRoot}: ${causeText(cause)}`, { cause });
  }
}

/** Writing a compilation to the kernel failed (the next applyNode reconciles everything). */
export class EbpfApplyError extends Error {
  override readonly name = 'EbpfApplyError';
  constructor(
    /** Which step: 'prefixes', 'endpoints', 'attach', 'detach', 'learned', 'reconcile', 'validate'. */
    readonly step: string,
    /** The endpoint, map or ifindex concerned. */
    readonly object: string,
    override readonly cause: unknown,
  ) {
    super(`applyNode ${step} (${object}): ${causeText(cause)}`, { cause });
  }
}

/** `learn` could not program its entries; nothing of the batch stays in effect. */
export class EbpfLearnError extends Error {
  override readonly name = 'EbpfLearnError';
  constructor(
    readonly entries: number,
    readonly reason: string,
    override readonly cause?: unknown,
  ) {
    super(`could not program ${entries} learned entries: ${reason}${cause !== undefined ? `: ${causeText(cause)}` : ''}`, cause !== undefined ? { cause } : undefined);
  }
}

/** The datapath was used after close() or uninstall(). */
export class EbpfClosedError extends Error {
  override readonly name = 'EbpfClosedError';
  constructor(readonly op: string) {
    super(`${op}: the eBPF datapath is closed`);
  }
}
