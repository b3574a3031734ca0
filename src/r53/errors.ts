// Typed errors of the emulator. Every configuration error names the file and the field (or record)
// so a user replaying a real setup can find the offending line without guessing.

export class R53ConfigError extends Error {
  override readonly name = 'R53ConfigError';
  constructor(
    readonly file: string,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${file}: ${field}: ${reason}`);
  }
}

export class ZoneError extends Error {
  override readonly name = 'ZoneError';
  constructor(
    readonly file: string,
    readonly record: string,
    readonly reason: string,
  ) {
    super(`${file}: ${record}: ${reason}`);
  }
}

export class ListenAddressError extends Error {
  override readonly name = 'ListenAddressError';
  constructor(
    readonly value: string,
    readonly reason: string,
  ) {
    super(`--listen ${JSON.stringify(value)}: ${reason}`);
  }
}
