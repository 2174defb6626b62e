// Where the agent's Unix socket lives.

export const DEFAULT_SOCKET_PATH = '/run/xctl/xctl.sock';

/** The --socket value if given, else $XCTL_SOCKET, else /run/xctl/xctl.sock. */
export function resolveSocketPath(flag?: string): string {
  if (flag) return flag;
  const env = process.env.XCTL_SOCKET;
  return env ? env : DEFAULT_SOCKET_PATH;
}

export function defaultSocketPath(): string {
  return resolveSocketPath();
}
