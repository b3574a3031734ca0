// Typed errors of the file source.

export class FileSourceError extends Error {
  constructor(
    message: string,
    readonly paths: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FileSourceError';
  }
}
