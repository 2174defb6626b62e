/**
 * The base of every xctl error class. The CLI and the agent decide what to do
 * with a failure from these two properties (with instanceof), never from its
 * name or message text. Getters on the prototype, so errors serialize as before.
 */
export class XctlError extends Error {
  /** the process exit code when this error ends a command */
  get exitCode(): number {
    return 2;
  }

  /**
   * true: the user's to fix (bad input, missing privileges, another agent
   * running): printed as its message alone, no crash report. false: a fault or
   * a failure a caller handles, printed with its stack if it reaches the top.
   */
  get userFacing(): boolean {
    return false;
  }
}

/** An error that is the user's to fix: bad input, missing privileges, another agent on the socket. */
export class UserError extends XctlError {
  override get userFacing(): boolean {
    return true;
  }
}
