// Taking a node's bus name and holding match rules, on a real private bus.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateBus, type PrivateBus } from '../../tree-supervisor/private-bus.js';
import { waitFor } from '../../test/helpers/wait.js';
import { connectBus, nameOwner, type DBusMessage, type MessageBus } from './bus.js';
import { MatchRules, ownerRule, takeName, takeOwnName } from './bus-names.js';

let bus: PrivateBus;
const conns: MessageBus[] = [];
beforeAll(async () => { bus = await startPrivateBus(); });
afterAll(async () => { for (const c of conns) c.disconnect(); await bus?.stop(); });
async function conn(): Promise<MessageBus> { const c = await connectBus(bus.address); conns.push(c); return c; }
const unique = (c: MessageBus) => (c as unknown as { name: string }).name;

describe('takeName', () => {
  it('takes a name over from a stale run that took it the same way, and lets the next run take it', async () => {
    const [old, now, next] = [await conn(), await conn(), await conn()];
    expect(await takeName(old, 'org.hive.t.node')).toEqual({ owned: true, reply: 1 });
    expect((await takeName(now, 'org.hive.t.node')).owned).toBe(true);
    expect(await nameOwner(next, 'org.hive.t.node')).toBe(unique(now));
    expect((await takeName(now, 'org.hive.t.node'))).toEqual({ owned: true, reply: 4 }); // already ours
    expect((await takeName(next, 'org.hive.t.node')).owned).toBe(true);
  });

  it('is not owned when the owner does not let the name go', async () => {
    const [holder, other] = [await conn(), await conn()];
    await holder.requestName('org.hive.t.held', 0x4); // DO_NOT_QUEUE, no ALLOW_REPLACEMENT
    expect((await takeName(other, 'org.hive.t.held')).owned).toBe(false);
    expect(await nameOwner(other, 'org.hive.t.held')).toBe(unique(holder));
  });
});

describe('takeOwnName', () => {
  it('takes a free name, and no other connection can take it while its owner lives, either way', async () => {
    const [node, squatter] = [await conn(), await conn()];
    expect(await takeOwnName(node, 'org.hive.t.own')).toEqual({ owned: true, reply: 1 });
    expect(await takeOwnName(squatter, 'org.hive.t.own', 300)).toEqual({ owned: false, reply: 3 });
    expect((await takeName(squatter, 'org.hive.t.own')).owned).toBe(false);
    expect(await squatter.requestName('org.hive.t.own', 0x1 | 0x2 | 0x4)).toBe(3);
    expect(await nameOwner(squatter, 'org.hive.t.own')).toBe(unique(node));
  });

  it('takes its name from a last run that goes within the wait, and from a holder that allowed replacement', async () => {
    const [last, next, holder] = [await conn(), await conn(), await conn()];
    expect((await takeOwnName(last, 'org.hive.t.restarted')).owned).toBe(true);
    setTimeout(() => last.disconnect(), 300);
    expect((await takeOwnName(next, 'org.hive.t.restarted')).owned).toBe(true);
    expect(await nameOwner(next, 'org.hive.t.restarted')).toBe(unique(next));
    expect((await takeName(holder, 'org.hive.t.held2')).owned).toBe(true); // a child's name held for it
    expect((await takeOwnName(next, 'org.hive.t.held2')).owned).toBe(true);
  });
});

describe('MatchRules', () => {
  it('adds a rule once, hears what it matches, and stops hearing it once dropped', async () => {
    const [watcher, owner] = [await conn(), await conn()];
    const rules = new MatchRules(() => watcher);
    const heard: string[] = [];
    watcher.on('message', (m: DBusMessage) => { if (m.member === 'NameOwnerChanged') heard.push(`${m.body[0]}:${m.body[2] ? 'up' : 'down'}`); });
    await rules.add(ownerRule('org.hive.t.watched'));
    await rules.add(ownerRule('org.hive.t.watched'));
    expect(rules.has(ownerRule('org.hive.t.watched'))).toBe(true);
    await owner.requestName('org.hive.t.watched', 0x4);
    await waitFor(() => heard.includes('org.hive.t.watched:up'), { what: 'the owner change' });
    await rules.drop(ownerRule('org.hive.t.watched'));
    expect(rules.has(ownerRule('org.hive.t.watched'))).toBe(false);
    await owner.releaseName('org.hive.t.watched');
    await owner.requestName('org.hive.t.other', 0x4); // a marker: the daemon has handled the release by now
    await new Promise((r) => setTimeout(r, 100));
    expect(heard).toEqual(['org.hive.t.watched:up']);
  });
});
