/**
 * systemd's notification protocol (sd_notify(3)) for `hive up` under `Type=notify`: READY=1 once
 * the configured tree is up, STATUS= a one-line summary (and again when it changes), RELOADING=1
 * around a reload, STOPPING=1 at shutdown, WATCHDOG=1 every WATCHDOG_USEC/2 when systemd asks.
 *
 * The protocol is one datagram on the unix socket NOTIFY_SOCKET names; Node has no unix datagram
 * sockets, and the npm packages that add them build native code. Each message is therefore sent
 * by a short-lived program: Debian's `systemd-notify` (package systemd, there wherever systemd
 * runs the service) when found, else `socat`. systemd-notify (252) sends the message as its
 * parent's (`hive up`'s) pid where it may (as root), then BARRIER=1 and waits until the manager
 * has read both: the old race of a sender gone before systemd looked it up (systemd#2737) is
 * closed. Measured here: 19 ms a message with systemd-notify (its barrier), 6 ms with socat; a
 * hive sends a handful a minute. A sender that is `hive up`'s child needs NotifyAccess=all in the
 * unit (docs/deploy.md) unless it is root.
 *
 * The variables are taken out of the environment at once (as sd_notify's unset_environment does):
 * no node is told where the socket is. That hides nothing from a node that looks: the socket is
 * the well-known /run/systemd/notify, and under NotifyAccess=all systemd takes any process of the
 * unit. Sandboxed nodes do not see /run/systemd (node-isolation.ts); only NotifyAccess=main, with
 * `hive up` as root, keeps the others out (docs/deploy.md).
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Logger } from 'pino';

/** How long one sender may take before it is given up (systemd reads its socket at once). */
const SEND_TIMEOUT_MS = 5000;

function findProgram(name: string, path: string | undefined): string | undefined {
  for (const dir of ['/usr/bin', '/bin', ...(path ?? '').split(delimiter)]) {
    if (!dir) continue;
    const p = join(dir, name);
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

export interface SdNotifyOptions {
  socket: string;
  /** From WATCHDOG_USEC (when WATCHDOG_PID, if set, is this process). */
  watchdogUsec?: number;
  log: Logger;
  /** The environment's PATH, to find the sender. */
  path?: string;
}

export class SdNotify {
  private readonly sender: { program: string; args: (msg: string) => string[]; stdin?: (msg: string) => string } | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastStatus = '';
  /** Messages sent, and those the sender failed to send. */
  readonly counts = { sent: 0, failed: 0 };

  constructor(private readonly o: SdNotifyOptions) {
    const notify = findProgram('systemd-notify', o.path);
    const socat = notify ? undefined : findProgram('socat', o.path);
    if (notify) {
      // Each VARIABLE=VALUE its own argument; systemd-notify sends them as one datagram.
      this.sender = { program: notify, args: (msg) => msg.split('\n') };
    } else if (socat) {
      const target = o.socket.startsWith('@') ? `ABSTRACT-SENDTO:${o.socket.slice(1)}` : `UNIX-SENDTO:${o.socket}`;
      this.sender = { program: socat, args: () => ['-u', 'STDIN', target], stdin: (msg) => msg };
    } else {
      o.log.error({ socket: o.socket }, 'NOTIFY_SOCKET is set but neither systemd-notify nor socat is installed (apt install systemd or socat): systemd will not hear that the hive is ready');
    }
  }

  /** From the environment; undefined unless NOTIFY_SOCKET is set. The variables are removed from `env`. */
  static fromEnv(env: NodeJS.ProcessEnv, log: Logger): SdNotify | undefined {
    const socket = env.NOTIFY_SOCKET;
    const usec = Number(env.WATCHDOG_USEC);
    const forUs = !env.WATCHDOG_PID || Number(env.WATCHDOG_PID) === process.pid;
    delete env.NOTIFY_SOCKET;
    delete env.WATCHDOG_USEC;
    delete env.WATCHDOG_PID;
    if (!socket || !(socket.startsWith('/') || socket.startsWith('@')) || socket.length > 107) {
      if (socket) log.error({ socket: socket.slice(0, 200) }, 'NOTIFY_SOCKET is not a unix socket path (/…) or abstract name (@…); not notifying systemd');
      return undefined;
    }
    return new SdNotify({ socket, log, path: env.PATH, ...(forUs && Number.isInteger(usec) && usec > 0 && { watchdogUsec: usec }) });
  }

  /** The tree is up: READY=1 with its status; the watchdog starts. */
  ready(status: string): Promise<void> {
    this.lastStatus = oneLine(status);
    this.startWatchdog();
    return this.send(`READY=1\nSTATUS=${this.lastStatus}`);
  }

  /** STATUS=, only when it changed. */
  status(status: string): Promise<void> {
    const line = oneLine(status);
    if (line === this.lastStatus) return Promise.resolve();
    this.lastStatus = line;
    return this.send(`STATUS=${line}`);
  }

  reloading(): Promise<void> {
    return this.send('RELOADING=1\nSTATUS=reloading the config');
  }

  /** After RELOADING=1, systemd waits for READY=1 again. */
  reloaded(status: string): Promise<void> {
    this.lastStatus = oneLine(status);
    return this.send(`READY=1\nSTATUS=${this.lastStatus}`);
  }

  stopping(): Promise<void> {
    this.stopWatchdog();
    return this.send('STOPPING=1\nSTATUS=stopping');
  }

  private startWatchdog(): void {
    if (!this.o.watchdogUsec || this.watchdog) return;
    const everyMs = Math.max(100, Math.floor(this.o.watchdogUsec / 2000));
    this.watchdog = setInterval(() => void this.send('WATCHDOG=1'), everyMs);
    this.watchdog.unref();
    this.o.log.info({ everyMs }, 'systemd watchdog: notifying');
  }

  stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  /** One datagram; a failure is logged and counted, never thrown (the hive goes on without systemd's ear). */
  send(msg: string): Promise<void> {
    const s = this.sender;
    if (!s) { this.counts.failed++; return Promise.resolve(); }
    return new Promise((resolve) => {
      const child = execFile(s.program, s.args(msg), { env: { ...process.env, NOTIFY_SOCKET: this.o.socket }, timeout: SEND_TIMEOUT_MS }, (err, _out, stderr) => {
        if (err) {
          this.counts.failed++;
          this.o.log.warn({ err: err.message, stderr: String(stderr).slice(0, 300), message: msg.split('\n')[0] }, 'systemd notification not sent');
        } else this.counts.sent++;
        resolve();
      });
      if (s.stdin) child.stdin?.end(s.stdin(msg));
      else child.stdin?.end();
    });
  }
}

/** STATUS= is one line. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 200);
}
