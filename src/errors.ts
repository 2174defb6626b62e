/**
 * The base of every xctl error class. The CLI and the agent decide what to do
 * with a failure from these two fields (with instanceof), never from its name
 * or message text.
 */
export class XctlError extends Error {
  /** the process exit code when this error ends a command */
  readonly exitCode: number = 2;
  /**
   * true: the user's to fix (bad input, missing privileges, another agent
   * running): printed as its message alone, no crash report. false: a fault or
   * a failure a caller handles, printed with its stack if it reaches the top.
   */
  readonly userFacing: boolean = false;
}
