// dbus-next's XML half (xml2js, xmlbuilder, sax: ~1 MB PSS a process) is loaded only when used
// (protocol/dbus-next.ts, issue 17). In a process of its own on a real dbus-daemon: nothing of it
// after connecting and exporting an object; then a proxy object (introspection read) and an exported
// object's Introspect (introspection written) work as dbus-next's own do, and it is loaded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { startPrivateBus, type PrivateBus } from '../helpers/bus.js';
import { fixture } from '../helpers/paths.js';

let bus: PrivateBus;
beforeAll(async () => { bus = await startPrivateBus(); });
afterAll(async () => { await bus?.stop(); });

describe('dbus-next without its XML until it is used', () => {
  it('is not loaded by connecting and exporting; introspection both ways still works, and loads it', async () => {
    const r = await execa('node', [fixture('xml-lazy')], { env: { HIVE_BUS_ADDRESS: bus.address }, timeout: 20_000, reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toEqual({
      before: { loaded: false, cached: false },
      afterConnect: { loaded: false, cached: false },
      after: { loaded: true, cached: true },
      names: true,
      hello: 'hi',
    });
  });
});
