/** What a subcommand produced; main() writes it and exits, so commands stay testable in-process. */
export interface CommandOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
}
