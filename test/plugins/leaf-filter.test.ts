// A filter no node of the config has under it (HIVE_LEAF, set by the supervisor) takes only its own
// routes, like a responder (issue 17): stats under the mouth with nothing below it is not sent the
// channel's talk. A plugin loaded under it later makes it take everything, and it filters as before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';
import { botJoined, expectPrivmsg, ircNetwork } from '../mouth/util.js';

let ircd: Ircd;
let hive: TestHive;
let bob: IrcTestClient;

beforeAll(async () => {
  ircd = await startNgircd();
  bob = await connectClient({ host: ircd.host, port: ircd.port, nick: 'bob' });
  await bob.join('#one');
  hive = await startHive({
    networks: { net: ircNetwork(ircd, { channels: ['#one'] }) },
    plugins: [
      { name: 'stats', use: 'stats' },
      { name: 'guard', use: 'ratelimit' },
      { name: 'ping', use: 'ping', parent: 'guard' },
    ],
  });
  await botJoined(bob, 'hivebot', '#one');
}, 60_000);

afterAll(async () => {
  bob?.close();
  await hive?.stop();
  await ircd?.stop();
});

const received = async (node: string) => (await hive.node(node)).counters.in ?? 0;

async function ask(text: string, answer: string | RegExp): Promise<void> {
  const since = bob.mark();
  bob.say('#one', text);
  await expectPrivmsg(bob, 'hivebot', '#one', answer, { since });
}

describe('a filter with no child in the config', () => {
  it('takes its own commands only, while a filter with a child in the config takes everything', async () => {
    await ask('!ping', 'pong');
    const stats0 = await received('stats'), guard0 = await received('guard');
    for (let i = 0; i < 20; i++) bob.say('#one', `just talk ${i}`);
    await ask('!stats', /since \d{4}/);
    expect(await received('stats') - stats0).toBe(1);
    await waitFor(async () => (await received('guard')) - guard0 >= 21, { what: 'the filter with a child taking every line' });
  });

  it('takes everything once a plugin is loaded under it, and counts what that plugin answers', async () => {
    const r = await hive.cli('load', '--config', hive.configFile, '--name', 'echo', '--use', 'echo', '--parent', 'stats');
    expect(r.exitCode, r.stderr).toBe(0);
    await waitFor(async () => (await hive.node('echo')).state === 'running' && (await hive.node('echo')).parent === 'stats', { what: 'echo attached under stats' });
    const stats0 = await received('stats');
    for (let i = 0; i < 5; i++) bob.say('#one', `more talk ${i}`);
    await ask('!echo through the filter', 'through the filter');
    await waitFor(async () => (await received('stats')) - stats0 >= 6, { what: 'stats taking every line now' });
    await ask('!stats', /echo 1/);
  });
});
