// The disk_full scene: declared in rules/storage.yaml with its rule; the rule
// matches an ENOSPC process and a fix plan verifies io.errors.
import t from 'tap';
import { loadRuleDir } from '../src/rules/loader';
import { defaultRulesDir } from '../src/rules/check';
import { MemoryContext } from '../src/rules/memory-context';

t.test('disk_full: ENOSPC matches, verified by io.errors', async (t) => {
  const rs = loadRuleDir(defaultRulesDir()).ruleSet!;
  t.equal(rs.scenes.get('disk_full')?.verify?.metric, 'io.errors');
  const ctx = new MemoryContext();
  const p = { type: 'process' as const, id: 'p:1:1' };
  ctx.set(p, { comm: 'trainer', pid: 1, 'io.last_error': 'ENOSPC' });
  const m = rs.byId.get('storage.disk_full')!.evaluate(ctx, p);
  t.equal(m?.scene, 'disk_full');
  t.equal(m?.cause, 'trainer (1) cannot write: the file system is full (ENOSPC)');
  t.same(m?.verify, { metric: 'io.errors', of: 'victim', max: 0 });
});
