/**
 * What the mouth needs of a network (IRC or the terminal): it reports inbound lines and its own
 * events, and takes outbound messages through its Outbound.
 */
import type { Meta } from '../protocol/metadata.js';
import type { Sender } from './outbound.js';

export type MouthEvent = 'connecting' | 'registered' | 'disconnected' | 'nick';

export interface NetworkSink {
  /**
   * A line from the server (raw bytes, without CR/LF) with the metadata the network knows, and
   * its speaker (speakerOf, for users' lines only) so replies to it get that user's share; returns its hive.id.
   */
  line(network: string, bytes: Buffer, meta: Meta, speaker?: string): string;
  /** An event of the mouth's own (no line). */
  event(network: string, event: MouthEvent, meta: Meta): void;
}

export interface Network {
  readonly name: string;
  /** The bot's current nick there. */
  readonly nick: string;
  start(): Promise<void>;
  /** Queues the lines of one message from `sender` (answering `replyTo`, if any); throws OutboundRefused. */
  submit(sender: Sender, lines: Buffer[], replyTo?: string): void;
  stop(reason?: string): Promise<void>;
  /**
   * Joins the channels (rooms) newly listed and leaves those no longer listed, without
   * reconnecting; the others are not touched. Resolves once the lines are sent (or, while not
   * connected, once the list is kept for the next registration). `hive reload` (mouth/live-config.ts).
   */
  setChannels?(channels: { name: string; key?: string }[]): Promise<void>;
  /** The outbound path's counters (Outbound.counters()): the same keys every time. */
  outboundCounters(): Record<string, number>;
}
