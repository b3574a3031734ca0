/** `learn` was refused by the memory datapath (a test hook asked it to fail, or it was closed). */
export class LearnRefusedError extends Error {
  override readonly name = 'LearnRefusedError';
  constructor(
    readonly reason: string,
    readonly entries: number,
  ) {
    super(`datapath refused to learn ${entries} entries: ${reason}`);
  }
}

/** A diff or endpoint could not be applied (bad CIDR, unknown endpoint, ...). */
export class MemoryApplyError extends Error {
  override readonly name = 'MemoryApplyError';
  constructor(
    readonly object: string,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${object}: ${field}: ${reason}`);
  }
}
