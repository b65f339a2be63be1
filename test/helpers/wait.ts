/** Polls `check` until it returns a truthy value; generous deadlines guard against hangs only. */
/** `what` names the condition in the error; a function is asked at the deadline, so it can say how things stand then. */
export async function waitFor<T>(check: () => T | Promise<T>, { timeout = 10_000, interval = 10, what = 'condition' as string | (() => string) } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${typeof what === 'function' ? what() : what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
