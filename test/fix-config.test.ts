// The remediation policy is configuration: `fix:` in the agent's YAML file.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveConfig, validateConfigFile } from '../src/config/config';
import { DEFAULT_POLICY } from '../src/fix/policy';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-fixcfg-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};

t.test('fix: policy, callers and rate limit reach the effective config with their source', async (t) => {
  const f = write(
    'ok.yaml',
    'fix:\n  policy:\n    terminate: deny\n    renice: ask\n  allowed_uids: [0, 1000]\n  rate_limit: 3\n  rate_window: 30s\n',
  );
  const r = resolveConfig({ file: f, env: {} });
  t.equal(r.config.fix.policy?.terminate, 'deny');
  t.equal(r.config.fix.policy?.renice, 'ask');
  t.equal(r.config.fix.policy?.sigcont, DEFAULT_POLICY.sigcont, 'unlisted actions keep their default');
  t.same(r.config.fix.allowedUids, [0, 1000]);
  t.same(r.config.fix.rateLimit, { max: 3, windowS: 30 });
  t.equal(r.sources['fix.policy'], `file:${f}:2`);
  t.equal(resolveConfig({ env: { XCTL_FIX_ALLOWED_UIDS: '0,42' } }).config.fix.allowedUids?.join(), '0,42', 'env override');
});

t.test('bad policy entries are named with file:line:col', async (t) => {
  t.equal(
    validateConfigFile(write('a.yaml', 'fix:\n  policy:\n    renice: sometimes\n')),
    `${dir}/a.yaml:3:5: "fix.policy.renice" must be one of allow, ask, deny, got "sometimes"`,
  );
  t.match(validateConfigFile(write('b.yaml', 'fix:\n  policy:\n    reboot: allow\n')) ?? '', /unknown action type "reboot"/);
  t.match(validateConfigFile(write('c.yaml', 'fix:\n  allowed_uids: [root]\n')) ?? '', /must be a list of numeric ids/);
});
