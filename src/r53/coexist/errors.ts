// Typed errors of `dnsgate coexist`: bad input, each naming where it came from (exit code 2).

export class CoexistInputError extends Error {
  override readonly name = 'CoexistInputError';
  constructor(
    /** The option or file (and index) the value came from, e.g. `--name[2]` or `names.txt[4]`. */
    readonly where: string,
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(`${where} ${JSON.stringify(value)}: ${reason}`);
  }
}
