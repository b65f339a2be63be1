/**
 * dbus-next, with its XML half loaded the first time it is used (issue 17). dbus-next's bus and
 * proxy objects require xml2js at load (with xmlbuilder and sax: 38 modules) to write the
 * introspection XML of objects exported through dbus-next and to read that of proxy objects. Hive
 * does neither on its hot paths (nodes answer Introspect with their own XML: introspection.ts), and
 * those modules cost every process about 2 MB of PSS: 24 MB in a ten-plugin hive.
 *
 * While dbus-next itself loads, its `require('xml2js')` gets a stand-in whose Builder and Parser
 * load the real module when first asked to build or parse, and behave as xml2js's then. Import
 * dbus-next from here, not from 'dbus-next', in code that runs in a node process.
 */
import Module, { createRequire } from 'node:module';
import type DBus from 'dbus-next';

const require = createRequire(import.meta.url);
const fromDbusNext = createRequire(require.resolve('dbus-next'));

interface Xml2js {
  Builder: new (opts?: unknown) => { buildObject(x: unknown): string };
  Parser: new (opts?: unknown) => { parseString(xml: string, cb: (err: unknown, data: unknown) => void): void };
}
let real: Xml2js | undefined;
const xml2js = (): Xml2js => (real ??= fromDbusNext('xml2js') as Xml2js);

/** Whether the real xml2js has been loaded (for tests and the module trace). */
export function xmlLoaded(): boolean { return real !== undefined; }

const standIn = {
  Builder: class {
    constructor(private readonly opts?: unknown) {}
    buildObject(x: unknown): string { return new (xml2js().Builder)(this.opts).buildObject(x); }
  },
  Parser: class {
    constructor(private readonly opts?: unknown) {}
    parseString(xml: string, cb: (err: unknown, data: unknown) => void): void { new (xml2js().Parser)(this.opts).parseString(xml, cb); }
  },
};

type Load = (request: string, parent: unknown, isMain: boolean) => unknown;
const loader = Module as unknown as { _load: Load };

function loadDbusNext(): typeof DBus {
  const original = loader._load;
  loader._load = function (this: unknown, request: string, parent: unknown, isMain: boolean) {
    if (request === 'xml2js' && real === undefined) return standIn;
    return original.call(this, request, parent, isMain);
  };
  try {
    return require('dbus-next') as typeof DBus;
  } finally {
    // Only dbus-next's own first load gets the stand-in; anything else requiring xml2js later gets xml2js.
    loader._load = original;
  }
}

const dbus: typeof DBus = loadDbusNext();
export default dbus;
