/**
 * Capabilities of the speaker of a message, as the auth filter puts them in `hive.capabilities`.
 * `admin` holds every capability. A plugin with no auth filter above it sees none.
 */
import type { Meta } from '../metadata.js';

export function capabilitiesOf(meta: Meta): readonly string[] {
  return meta['hive.capabilities'] ?? [];
}

export function hasCapability(meta: Meta, capability: string): boolean {
  const caps = capabilitiesOf(meta);
  return caps.includes(capability) || caps.includes('admin');
}
