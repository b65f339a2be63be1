/**
 * The terminal network: each line read from stdin is a PRIVMSG from `you` to `#console`; what the
 * bot says to that channel or to `you` is printed on stdout. Works on a TTY and on a pipe. When
 * stdin ends, it waits until the hive has been quiet for `quiet_ms` with every line answered (or
 * quiet for ANSWER_WAIT_MS if some line got no answer, as ordinary talk does), then calls `onInputEnd`.
 */
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import type { TerminalNetworkConfig } from './network-config.js';
import { parseLine } from '../protocol/irc-line.js';
import { createAllowList } from './allow-list.js';
import type { Network, NetworkSink } from './network.js';
import { Outbound, type Sender } from './outbound.js';
import { createTokenBucket } from '../protocol/token-bucket.js';

/** How long to wait after end of input for lines that got no answer yet. */
const ANSWER_WAIT_MS = 2000;

export interface TerminalOptions {
  name: string;
  config: TerminalNetworkConfig;
  sink: NetworkSink;
  log: Logger;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  onInputEnd?: () => void;
}

export class TerminalNetwork implements Network {
  readonly name: string;
  readonly nick: string;
  private readonly outbound: Outbound;
  private lastActivity = Date.now();
  private quietTimer: NodeJS.Timeout | undefined;
  private readonly unanswered = new Set<string>();

  constructor(private readonly o: TerminalOptions) {
    this.name = o.name;
    this.nick = o.config.nick;
    this.outbound = new Outbound({
      allowList: createAllowList(),
      bucket: createTokenBucket({ ratePerSec: Infinity }),
      queueMax: 10_000,
      prefixLength: () => 0,
      write: (line) => this.print(line),
      log: o.log,
    });
  }

  async start(): Promise<void> {
    const { config, sink } = this.o;
    // A fresh metadata object each time: the sink fills in hive.time and the rest on it.
    const meta = () => ({ 'hive.nick': this.nick });
    sink.event(this.name, 'connecting', meta());
    sink.event(this.name, 'registered', meta());
    this.outbound.setOpen(true);
    const rl = createInterface({ input: this.o.input ?? process.stdin, terminal: false });
    rl.on('line', (text) => {
      this.lastActivity = Date.now();
      if (!text.trim()) return;
      const safe = text.replace(/[\r\n\0]/g, ' ');
      const speaker = `${config.user}@terminal`.toLowerCase();
      this.unanswered.add(sink.line(this.name, Buffer.from(`:${config.user}!${config.user}@terminal PRIVMSG ${config.channel} :${safe}`), meta(), speaker));
    });
    rl.on('close', () => {
      this.o.log.info('end of terminal input; finishing');
      this.quietTimer = setInterval(() => {
        const quiet = Date.now() - this.lastActivity;
        const enough = this.unanswered.size === 0 ? config.quiet_ms : Math.max(config.quiet_ms, ANSWER_WAIT_MS);
        if (quiet >= enough && this.outbound.size === 0) {
          clearInterval(this.quietTimer);
          this.o.onInputEnd?.();
        }
      }, 20);
    });
  }

  submit(sender: Sender, lines: Buffer[], replyTo?: string): void {
    this.lastActivity = Date.now();
    if (replyTo) this.unanswered.delete(replyTo);
    this.outbound.submit(sender, lines);
  }

  outboundCounters(): Record<string, number> { return this.outbound.counters(); }

  private print(line: Buffer): void {
    this.lastActivity = Date.now();
    const p = parseLine(line);
    if (!p || (p.command !== 'PRIVMSG' && p.command !== 'NOTICE')) return;
    const target = p.params[0] ?? '';
    const { channel, user } = this.o.config;
    if (target.toLowerCase() !== channel.toLowerCase() && target.toLowerCase() !== user.toLowerCase()) return;
    let text = p.params[p.params.length - 1] ?? '';
    const action = /^\x01ACTION (.*?)\x01?$/.exec(text);
    if (action) text = `* ${this.nick} ${action[1]}`;
    (this.o.output ?? process.stdout).write(text + '\n');
  }

  async stop(): Promise<void> {
    if (this.quietTimer) clearInterval(this.quietTimer);
    this.outbound.close();
  }
}
