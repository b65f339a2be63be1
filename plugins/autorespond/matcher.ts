/**
 * Bounded regex matching for autorespond: the patterns run in a worker thread (worker.ts), one
 * message at a time. A rule that runs longer than the budget gets the worker terminated (V8
 * interrupts a running regex) and replaced; the rule is reported through `onOverrun` and matching
 * goes on with the rules after it, each with a fresh budget.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { MatchResult, RuleSource } from './worker.js';

export type { RuleSource };

export interface MatcherOptions {
  /** How long one rule may run on one message. */
  timeoutMs: number;
  log: Logger;
  /** How long a new worker may take to start before matching is given up for that message. */
  startTimeoutMs?: number;
}

type Attempt = { kind: 'done'; id: number } | { kind: 'overrun'; id: number };

export class Matcher {
  private worker: Worker | undefined;
  private starting: Promise<Worker> | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private seq = 0;
  private waiting = 0;
  private closed = false;
  private readonly progress = new SharedArrayBuffer(4);
  private readonly started = new SharedArrayBuffer(8);
  private readonly current = new Int32Array(this.progress);
  private readonly since = new Float64Array(this.started);

  constructor(private readonly opts: MatcherOptions) {}

  /** Messages waiting for (or in) matching. */
  get pending(): number { return this.waiting; }

  /**
   * The id of the first rule (in the order given) whose pattern matches `text`, or undefined.
   * Calls are served one at a time, in order. A rule that overruns is skipped after `onOverrun`.
   */
  match(text: string, rules: RuleSource[], onOverrun: (rule: RuleSource) => unknown): Promise<number | undefined> {
    this.waiting++;
    const run = async () => {
      try {
        return await this.run(text, rules, onOverrun);
      } finally {
        this.waiting--;
      }
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.kill();
  }

  private async run(text: string, rules: RuleSource[], onOverrun: (rule: RuleSource) => unknown): Promise<number | undefined> {
    let rest = rules;
    while (rest.length > 0 && !this.closed) {
      const r = await this.attempt(text, rest);
      if (r.kind === 'done') return r.id === 0 ? undefined : r.id;
      const i = rest.findIndex((x) => x.id === r.id);
      if (i < 0) return undefined; // should not happen: the worker only reports ids it was given
      try {
        await onOverrun(rest[i]!);
      } catch (err) {
        this.opts.log.error({ err }, 'recording an overrun failed');
      }
      rest = rest.slice(i + 1);
    }
    return undefined;
  }

  private async attempt(text: string, rules: RuleSource[]): Promise<Attempt> {
    const w = await this.getWorker();
    const seq = ++this.seq;
    const budget = this.opts.timeoutMs;
    // No rule started yet: a slow start (a busy machine) is not blamed on any rule, up to a cap.
    const giveUpAt = Date.now() + Math.max(5_000, budget * 10);
    Atomics.store(this.current, 0, 0);
    this.since[0] = Date.now();
    return new Promise<Attempt>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (a: Attempt) => {
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('exit', onExit);
        resolve(a);
      };
      const onMessage = (m: MatchResult | string) => {
        if (typeof m === 'object' && m.seq === seq) done({ kind: 'done', id: m.id });
      };
      const onExit = () => {
        // The worker died (out of memory, say) while on a rule: that rule is to blame.
        if (this.worker === w) { this.worker = undefined; }
        const id = Atomics.load(this.current, 0);
        done(id ? { kind: 'overrun', id } : { kind: 'done', id: 0 });
      };
      const check = () => {
        const id = Atomics.load(this.current, 0);
        const ran = Date.now() - this.since[0]!;
        if (id !== 0 && ran < budget) { timer = setTimeout(check, budget - ran + 1); return; }
        if (id === 0 && Date.now() < giveUpAt) { timer = setTimeout(check, budget); return; }
        w.off('exit', onExit);
        void this.kill();
        if (id === 0) this.opts.log.warn('matcher worker did not start on a message in time; message skipped');
        done(id ? { kind: 'overrun', id } : { kind: 'done', id: 0 });
      };
      w.on('message', onMessage);
      w.on('exit', onExit);
      timer = setTimeout(check, budget);
      w.postMessage({ seq, text, rules });
    });
  }

  private async kill(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.starting = undefined;
    if (w) await w.terminate().catch(() => undefined);
  }

  private getWorker(): Promise<Worker> {
    if (this.worker) return Promise.resolve(this.worker);
    if (this.starting) return this.starting;
    const startTimeout = this.opts.startTimeoutMs ?? 15_000;
    const starting = new Promise<Worker>((resolve, reject) => {
      let up = false;
      const w = new Worker(new URL('./worker.js', import.meta.url), {
        workerData: { progress: this.progress, started: this.started },
        // A pattern that allocates without end must not take the plugin's memory with it.
        resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 },
      });
      const timer = setTimeout(() => { void w.terminate(); }, startTimeout);
      w.once('message', () => {
        clearTimeout(timer);
        up = true;
        if (this.starting !== starting) { void w.terminate(); reject(new Error('matcher closed')); return; }
        this.worker = w;
        this.starting = undefined;
        resolve(w);
      });
      w.on('error', (err) => this.opts.log.error({ err }, 'matcher worker failed'));
      w.once('exit', () => {
        clearTimeout(timer);
        if (this.worker === w) this.worker = undefined;
        if (!up) {
          if (this.starting === starting) this.starting = undefined;
          reject(new Error('matcher worker did not start'));
        }
      });
    });
    this.starting = starting;
    return this.starting;
  }
}
