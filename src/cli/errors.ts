// Errors the CLI maps to exit codes. Anything else escaping a command is a bug (exit 70).

/** Bad input from the user: invalid manifest, unknown pod, malformed flow, bad flag. Exit 2. */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    message: string,
    /** Every problem found, so the user can fix them all in one go. */
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

export const EXIT = {
  ok: 0,
  findings: 1,
  input: 2,
  internal: 70,
} as const;
