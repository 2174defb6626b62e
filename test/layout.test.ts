// The C record layout (offsetof from the host compiler, exported by the addon)
// and the TypeScript tables (generated from the header's BPF-target BTF by
// scripts/gen-layout.js) must agree field by field, kind by kind.
import t from 'tap';
import { loadAddon } from '../src/native/addon';
import { KIND_IDS, LAYOUT_HASH, OFFSETS, RECORD_SIZE, RECORD_VERSION, layoutHash } from '../src/events/layout';

const native = loadAddon().recordLayout();

t.equal(native.size, RECORD_SIZE, 'record size');
t.equal(native.version, RECORD_VERSION, 'record version');

t.test('every field offset agrees', async (t) => {
  const tsKeys = Object.keys(OFFSETS).sort();
  const cKeys = Object.keys(native.offsets).sort();
  t.same(tsKeys, cKeys, 'same field set on both sides');
  for (const k of cKeys) t.equal((OFFSETS as Record<string, number>)[k], native.offsets[k], k);
});

t.test('kind numbers agree', async (t) => {
  t.same({ ...KIND_IDS }, native.kinds);
});

t.test('layout hash computed from the C offsets equals the TS constant', async (t) => {
  t.equal(layoutHash(native.size, native.version, native.offsets), LAYOUT_HASH);
});
