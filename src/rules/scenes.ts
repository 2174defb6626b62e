/**
 * Scenes are data. A rule file declares the scenes its rules name, under
 * `scenes:` beside `rules:`, with what a fix plan verifies and whether the
 * node is unusable while one holds. A rule's `scene:` must name a scene
 * declared in the files being loaded or in the shipped rules/ (so custom rule
 * directories keep the shipped scenes). A new scene is its rule file (and its
 * test), nothing else.
 */
import type { Node } from 'yaml';
import { RuleError, formatPos, type SourcePos } from './errors';
import { metricProblem } from './names';
import type { RuleSpec } from './spec';
import { suggest } from './suggest';
import { isBoundedNumber, parseQuantity } from './units';
import { VERIFY_OF, VERIFY_STATES } from './vocabulary';
import type { NodeReader } from './yaml-reader';

type AnyNode = Node | null | undefined;

/** What `xctl fix` measures to judge a plan: good when `metric` of `of` over the window is at most `max`. */
export interface VerifySpec {
  /** a graph metric the victim or culprit records (summed over the window), or one of VERIFY_STATES */
  metric: string;
  of: (typeof VERIFY_OF)[number];
  max: number;
}

/** A rule's `scene:`, where it is written. */
export interface SceneRef {
  name: string;
  pos: SourcePos;
}

export interface SceneSpec {
  name: string;
  description: string;
  verify?: VerifySpec;
  /** the node cannot do its work while it holds (published as a Kubernetes node condition) */
  fatal: boolean;
  pos: SourcePos;
}

const SCENE_KEYS = ['name', 'description', 'verify', 'fatal'];
const VERIFY_KEYS = ['metric', 'of', 'max'];
export const SCENE_NAME = /^[a-z][a-z0-9_]*$/;

export function readVerify(r: NodeReader, node: AnyNode): VerifySpec | undefined {
  const f = r.fields(node, 'verify', VERIFY_KEYS, ['metric']);
  if (!f) return undefined;
  const metric = r.string(f.get('metric'), '"metric"');
  const of = f.has('of') ? r.oneOf(f.get('of'), 'verify "of"', VERIFY_OF) : 'victim';
  let max: number | undefined = 0;
  if (f.has('max')) {
    const v = r.scalar(f.get('max'), '"max"');
    const q = typeof v === 'number' ? (isBoundedNumber(v) ? v : undefined) : typeof v === 'string' ? parseQuantity(v)?.value : undefined;
    max =
      q ??
      (v === undefined
        ? undefined
        : r.error(
            f.get('max'),
            `bad "max" "${String(v)}" (a finite number, a duration like 100ms up to 30d or a size like 64MiB up to 1PiB)`,
          ));
  }
  if (metric !== undefined && !(VERIFY_STATES as readonly string[]).includes(metric)) {
    const problem = metricProblem(metric, 'process');
    if (problem) return r.error(f.get('metric'), `${problem}; a verification reads a process metric or one of ${VERIFY_STATES.join(', ')}`);
  }
  if (metric === undefined || of === undefined || max === undefined) return undefined;
  return { metric, of, max };
}

/** The `scenes:` list of a rule file. */
export function readScenes(r: NodeReader, node: AnyNode): SceneSpec[] {
  const out: SceneSpec[] = [];
  for (const item of r.list(node, '"scenes"') ?? []) {
    const f = r.fields(item, 'scene', SCENE_KEYS, ['name', 'description']);
    if (!f) continue;
    const name = f.has('name') ? r.string(f.get('name'), '"name"') : undefined;
    if (name !== undefined && !SCENE_NAME.test(name))
      r.error(f.get('name'), `bad scene name "${name}" (use lower-case letters, digits and "_")`);
    const description = f.has('description') ? r.string(f.get('description'), '"description"') : undefined;
    const verify = f.has('verify') ? readVerify(r, f.get('verify')) : undefined;
    const fatal = f.has('fatal') ? r.boolean(f.get('fatal'), '"fatal"') : false;
    if (name === undefined || !SCENE_NAME.test(name) || description === undefined || (f.has('verify') && !verify) || fatal === undefined)
      continue;
    const scene: SceneSpec = { name, description, fatal, pos: r.posOf(f.get('name')) };
    if (verify) scene.verify = verify;
    out.push(scene);
  }
  return out;
}

/**
 * The scenes the rules may name: those declared in the loaded files, then the
 * shipped ones they do not redeclare. Errors: a scene declared twice in the
 * loaded files, a rule naming an undeclared scene. Each rule without a
 * `verify:` of its own takes its scene's.
 */
export function resolveScenes(
  specs: RuleSpec[],
  refs: readonly SceneRef[],
  declared: readonly SceneSpec[],
  shipped: ReadonlyMap<string, SceneSpec>,
): { scenes: Map<string, SceneSpec>; errors: RuleError[] } {
  const errors: RuleError[] = [];
  const scenes = new Map<string, SceneSpec>();
  for (const s of declared) {
    const first = scenes.get(s.name);
    if (first) errors.push(RuleError.at(s.pos, `scene "${s.name}" is declared twice (first at ${formatPos(first.pos)})`));
    else scenes.set(s.name, s);
  }
  for (const [name, s] of shipped) if (!scenes.has(name)) scenes.set(name, s);
  for (const ref of refs)
    if (!scenes.has(ref.name))
      errors.push(
        RuleError.at(
          ref.pos,
          `unknown scene "${ref.name}"${suggest(ref.name, [...scenes.keys()])}; declare it under "scenes:" in a rule file`,
        ),
      );
  for (const spec of specs) {
    const verify = scenes.get(spec.scene)?.verify;
    if (!spec.verify && verify) spec.verify = verify;
  }
  return { scenes, errors };
}
