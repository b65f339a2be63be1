/**
 * The Details and Counters properties of org.hive.Node1 (docs/protocol.md#properties) as D-Bus
 * values: a node's own figures become variants of the narrowest type that holds them, and counters
 * unsigned 64-bit integers. Pure.
 */
import { Variant } from './bus.js';

/** A value of the Details property: a string, an integer, a flag, a list of strings or counts by name. */
export type DetailValue = string | number | boolean | string[] | Record<string, number>;

export function detailVariants(details: Record<string, DetailValue>): Record<string, InstanceType<typeof Variant>> {
  const out: Record<string, InstanceType<typeof Variant>> = {};
  for (const [k, v] of Object.entries(details)) {
    if (typeof v === 'string') out[k] = new Variant('s', v);
    else if (typeof v === 'boolean') out[k] = new Variant('b', v);
    else if (typeof v === 'number') out[k] = Number.isInteger(v) ? new Variant('x', BigInt(v)) : new Variant('d', v);
    else if (Array.isArray(v)) out[k] = new Variant('as', v.map(String));
    else out[k] = new Variant('a{sx}', Object.fromEntries(Object.entries(v).map(([n, c]) => [n, BigInt(Math.round(c))])));
  }
  return out;
}

/** Counters as the Counters property carries them (a{st}). */
export function counterValues(counters: Record<string, number>): Record<string, bigint> {
  return Object.fromEntries(Object.entries(counters).map(([k, v]) => [k, BigInt(v)]));
}
