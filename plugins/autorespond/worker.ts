/**
 * The autorespond matcher thread. It runs the users' regexes so that a catastrophic pattern blocks
 * only this thread: the plugin's main thread keeps answering commands, and kills and replaces this
 * worker when a match overruns its time budget.
 *
 * Before testing each rule it writes the rule's id and the start time into shared memory, so the
 * main thread knows which rule was running when it gave up, and how long it has been running.
 */
import { parentPort, workerData } from 'node:worker_threads';

export interface RuleSource { id: number; source: string; flags: string }
export interface MatchRequest { seq: number; text: string; rules: RuleSource[] }
export interface MatchResult { seq: number; id: number }

const { progress, started } = workerData as { progress: SharedArrayBuffer; started: SharedArrayBuffer };
const current = new Int32Array(progress);
const since = new Float64Array(started);

// Compiling on every message would waste time; patterns change rarely.
const cache = new Map<string, RegExp | null>();
function compiled(r: RuleSource): RegExp | null {
  const key = `${r.flags}/${r.source}`;
  let re = cache.get(key);
  if (re === undefined) {
    try {
      re = new RegExp(r.source, r.flags);
    } catch {
      re = null; // validated when added; a pattern this engine refuses simply never matches
    }
    if (cache.size > 2000) cache.clear();
    cache.set(key, re);
  }
  return re;
}

parentPort!.on('message', (m: MatchRequest) => {
  let hit = 0;
  for (const r of m.rules) {
    const re = compiled(r);
    if (!re) continue;
    since[0] = Date.now();
    Atomics.store(current, 0, r.id);
    let ok = false;
    try {
      ok = re.test(m.text);
    } catch {
      ok = false; // e.g. the regex engine's own stack limit
    }
    if (ok) { hit = r.id; break; }
  }
  Atomics.store(current, 0, 0);
  parentPort!.postMessage({ seq: m.seq, id: hit } satisfies MatchResult);
});

parentPort!.postMessage('ready');
