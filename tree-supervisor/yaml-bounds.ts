/**
 * Reading YAML the supervisor did not write (the config file, a `hive load` spec) within bounds,
 * and pointing at a place in it: a text or file larger than YAML_LIMITS.maxBytes is refused
 * unread, an alias bomb or a document nested too deep is refused with its place, and a problem's
 * key path is turned into "file:line:col". Nothing here knows what the YAML means.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { ConfigError, type ConfigProblem, type KeyPath } from './config-errors.js';
import { YAML_LIMITS } from './yaml-limits.js';

export { YAML_LIMITS };

/**
 * Parses a bounded YAML text to plain data, or returns the problems (named, with their place):
 * too large, not YAML, too many aliases, too deep. Never throws for what the text contains.
 */
export function parseBoundedYaml(text: string, what: string): { doc: Document; lineCounter: LineCounter; value: unknown } | { problems: ConfigProblem[] } {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > YAML_LIMITS.maxBytes) return { problems: [{ keyPath: [], message: `${what}: ${bytes} bytes; at most ${YAML_LIMITS.maxBytes} are read` }] };
  const lineCounter = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    return { problems: [{ keyPath: [], message: `${what}: cannot be parsed: ${(err as Error).message.split('\n')[0]}` }] };
  }
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        return { keyPath: [], message: `${what}:${line}:${col}: ${e.message.split('\n')[0]}` };
      }),
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: YAML_LIMITS.maxAliasCount });
  } catch (err) {
    // yaml throws a ReferenceError for "Excessive alias count"; a RangeError would be a stack overflow.
    if (!/alias/i.test((err as Error).message)) return { problems: [{ keyPath: [], message: `${what}: cannot be read: ${(err as Error).message.split('\n')[0]}` }] };
    const at = aliasBomb(doc);
    const range = at.node?.range;
    const { line, col } = range ? lineCounter.linePos(range[0]) : { line: 1, col: 1 };
    return {
      problems: [{
        keyPath: at.path,
        message: `its aliases (*name) expand to more than ${YAML_LIMITS.maxAliasCount} nodes (a "billion laughs" document); write the values out instead`,
        location: `${what}:${line}:${col}`,
      }],
    };
  }
  const deep = deepestPath(value, YAML_LIMITS.maxDepth);
  if (deep) return { problems: [{ keyPath: deep, message: `nested more than ${YAML_LIMITS.maxDepth} levels deep` }] };
  return { doc, lineCounter, value };
}

/** Where the aliases expand too far: the deepest key whose value alone is refused by toJS. */
function aliasBomb(doc: Document): { path: (string | number)[]; node: { range?: [number, number, number] | null } | undefined } {
  const path: (string | number)[] = [];
  let node: unknown = doc.contents;
  const refused = (n: unknown) => {
    try { (n as { toJS(d: Document, o: object): unknown }).toJS(doc, { maxAliasCount: YAML_LIMITS.maxAliasCount }); return false; } catch { return true; }
  };
  for (let depth = 0; depth < YAML_LIMITS.maxDepth && (isMap(node) || isSeq(node)); depth++) {
    const items = (node as YAMLMap | YAMLSeq).items as unknown[];
    const i = items.findIndex((item) => refused(isPair(item) ? item.value : item));
    if (i < 0) break;
    const item = items[i];
    path.push(isPair(item) ? String(isScalar(item.key) ? item.key.value : item.key) : i);
    node = isPair(item) ? item.value : item;
  }
  return { path, node: node as { range?: [number, number, number] | null } | undefined };
}

/** The key path of a value nested deeper than `max` levels, if any (checked before anything walks the value recursively). */
function deepestPath(value: unknown, max: number): KeyPath | undefined {
  const stack: { v: unknown; path: (string | number)[] }[] = [{ v: value, path: [] }];
  while (stack.length) {
    const { v, path } = stack.pop()!;
    if (path.length > max) return path.slice(0, max + 1);
    if (Array.isArray(v)) v.forEach((item, i) => stack.push({ v: item, path: [...path, i] }));
    else if (isRecord(v)) for (const [k, item] of Object.entries(v)) stack.push({ v: item, path: [...path, k] });
  }
  return undefined;
}

/**
 * The file's text, read in chunks and refused past YAML_LIMITS.maxBytes, so that a huge file (or
 * /dev/zero) is never read whole; pipes such as `--config <(…)` work too.
 */
export function readBounded(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      if (total > YAML_LIMITS.maxBytes) throw new ConfigError([{ keyPath: [], message: `${file}: more than ${YAML_LIMITS.maxBytes} bytes; a config file may have at most that` }]);
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export function lineOf(location: string | undefined): number {
  const m = location ? /:(\d+):(\d+)$/.exec(location) : null;
  return m ? Number(m[1]) * 1e6 + Number(m[2]) : 0;
}

/** "file:line:col" of the deepest node of `path` that exists in the YAML document. */
export function locate(doc: Document, lines: LineCounter, file: string, path: KeyPath): string | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (range) {
      const { line, col } = lines.linePos(range[0]);
      return `${file}:${line}:${col}`;
    }
  }
  return undefined;
}


function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
