/** What every module in `commands/` exports. */
export interface Command {
  /** One line for `hubbub help`. */
  readonly summary: string;
  /** Runs the command; resolves with the process exit code. */
  run(args: string[]): Promise<number>;
}
