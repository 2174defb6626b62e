/**
 * The command line that runs `command` as uid and gid 65534 (nobody), with no
 * groups, no inheritable capabilities and a clean environment: `env -i`, because
 * tap injects NODE_OPTIONS hooks into children, which would try to write files as
 * nobody. For the tests of what an unprivileged caller gets.
 */
export function asNobody(command: string[], path = '/usr/bin:/bin'): [string, string[]] {
  return ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', 'env', '-i', `PATH=${path}`, ...command]];
}
