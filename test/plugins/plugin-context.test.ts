// The plugin context's runtime helpers, through a real hive (test/fixtures/context-probe.ts, a
// filter made with definePlugin, run by plugins/run.js given its file): hive.count shows in the
// Counters property, hive.onAttached runs on attaching, hive.listCommands('subtree') lists the
// commands below it, the command declared once is what help says, and hive.config is the value
// the plugin's schema gave (a config the schema refuses: exit 2, named, not restarted).
import { afterEach, describe, expect, it } from 'vitest';
import { startHive, type TestHive } from '../helpers/hive.js';
import { fixture, pluginRunner } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';

const PROBE = ['node', pluginRunner, fixture('context-probe')];

let hive: TestHive | undefined;
afterEach(async () => { await hive?.stop(); hive = undefined; });

describe('the plugin context', () => {
  it('counts, runs onAttached, lists its subtree\'s commands, and its one command declaration is what help says', async () => {
    hive = await startHive({
      networks: { console: { type: 'terminal', quiet_ms: 200 } },
      plugins: [
        { name: 'help', use: 'help' },
        { name: 'probe', exec: PROBE, config: { word: 'pr' } },
        { name: 'words', use: 'text', parent: 'probe' },
        { name: 'ping', use: 'ping', parent: 'probe' },
      ],
    });
    const h = hive;
    await waitFor(() => ['probe', 'words', 'ping', 'help'].every((n) => h.logs.some((l) => l.node === n && l.msg === 'attached to parent')), { timeout: 20_000, what: 'plugins attached' });
    await h.waitForLog((l) => l.node === 'probe' && l.msg === 'probe attached', 10_000);
    await waitFor(async () => (await h.node('probe')).counters.attached === 1, { what: 'attached counted' });

    let mark = h.stdout.length;
    h.say('!pr config');
    await h.expectOutput('string pr', { since: mark });

    h.say('!pr count');
    await h.expectOutput('counted', { since: mark });
    mark = h.stdout.length;
    h.say('!pr count');
    await h.expectOutput('counted', { since: mark });
    await waitFor(async () => (await h.node('probe')).counters.probed === 2, { what: 'probed counted twice' });

    // Both children have attached (waited for above), so the probe knows them.
    mark = h.stdout.length;
    h.say('!pr subtree');
    expect(await h.expectOutput(/·|nothing below/, { since: mark })).toBe('ping: ping · words: reverse rot13 upper');

    mark = h.stdout.length;
    h.say('!help pr');
    await h.expectOutput('pr count|subtree|config — tries the plugin context', { since: mark });
  }, 90_000);

  it('refuses a config its schema refuses: exit 2, the key named, not restarted', async () => {
    hive = await startHive({
      networks: { console: { type: 'terminal' } },
      plugins: [{ name: 'probe', exec: PROBE, config: { word: 5 } }],
    }, { waitReady: false });
    const h = hive;
    const refused = await h.waitForLog((l) => l.node === 'probe' && typeof l.msg === 'string' && l.msg.startsWith('bad plugin config'), 20_000);
    expect(refused.msg).toContain('config.word');
    await waitFor(async () => (await h.node('probe')).state === 'failed', { timeout: 20_000, what: 'probe failed' });
  }, 60_000);
});
