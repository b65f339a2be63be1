/**
 * The texts the bridge relayed lately, per network, to recognise them if they come back to it
 * from the bot's own nick on another network (two hive networks on one IRC server, both in a
 * group). The mouth may split a long relay, so a part of a remembered text counts too. Pure.
 */
export class RecentRelays {
  private readonly byNetwork = new Map<string, { text: string; at: number }[]>();

  constructor(private readonly ttlMs: number, private readonly maxPerNetwork = 500) {}

  remember(network: string, text: string, now: number): void {
    const list = this.fresh(network, now);
    list.push({ text, at: now });
    if (list.length > this.maxPerNetwork) list.splice(0, list.length - this.maxPerNetwork);
    this.byNetwork.set(network, list);
  }

  /** Whether `text` is (part of) something relayed to `network` within the last ttlMs. */
  has(network: string, text: string, now: number): boolean {
    if (text.length === 0) return false;
    return this.fresh(network, now).some((r) => r.text.includes(text));
  }

  private fresh(network: string, now: number): { text: string; at: number }[] {
    const list = (this.byNetwork.get(network) ?? []).filter((r) => now - r.at < this.ttlMs);
    this.byNetwork.set(network, list);
    return list;
  }
}
