/**
 * The tree supervisor. It starts the mouth and the plugins, sees each death through the process
 * exit and NameOwnerChanged (whichever comes first), and keeps the tree in the configured shape:
 *
 * - the children of a dead node move at once to the nearest live ancestor (on_death: bypass), or
 *   stay cut off while it is down (on_death: hold);
 * - the dead node is restarted with exponential backoff; more than `restart.max` restarts within
 *   `restart.within` marks it failed (OTP's intensity and period), and its children stay moved;
 * - when a node is back, its children move back under it;
 * - a `remote` node (docs/deploy.md) is never started or stopped: it is seen to attach (and put in
 *   place with SetParent, which also checks its token) and to vanish, like a node that died.
 *
 * Every move is a SetParent call on the child (with the hive token); a node follows its parent's
 * well-known name, so a restarted parent is re-joined by its children on their own.
 */
import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { HiveError } from '../protocol/errors.js';
import { NODE_INTERFACE, NODE_PATH, SUPERVISOR_INTERFACE, SUPERVISOR_PATH, nodeBusName, supervisorBusName, PREFIX } from '../protocol/names.js';
import { SUPERVISOR1 } from '../protocol/supervisor1.js';
import { DBUS, Message, MessageType, addMatch, answerUnread, callWithDeadline, connectBus, nameOwner, sizeGate, type DBusMessage, type MessageBus } from '../protocol/sdk/bus.js';
import { serveObject } from '../protocol/sdk/service.js';
import { backoffDelay } from '../protocol/backoff.js';
import { YAML_LIMITS, checkPluginSpec, parseBoundedYaml, pluginSchema, type HiveConfig, type PluginSpec, treeOrder } from './config.js';
import { formatProblem, zodProblems } from './config-errors.js';
import { launchNode, nodeEnv, programProblem, type Exit, type Launched } from './node-process.js';
import { chooseNewParent, liveStates, planConvergence, ROOT, startingParent, stopWaves, type ConvergeStep, type NodeState, type NodeView, type TreeNode } from './reparent.js';
import { stopWithDeadline, withDeadline } from './deadline.js';
import { createRestartIntensity, type RestartIntensity } from './restart-intensity.js';

const DIST = fileURLToPath(new URL('..', import.meta.url));
const MOUTH_ENTRY = join(DIST, 'mouth/main.js');
const PLUGIN_RUNNER = join(DIST, 'plugins/run.js');
/** SIGTERM, then SIGKILL after this long. */
const STOP_GRACE_MS = 5000;
/** After SIGKILL, how long to wait for the exit before the node is given up as stopped (a process in D state). */
const KILL_WAIT_MS = 2000;
/** The largest body the supervisor decodes: twice the largest Load spec, so that a spec just too big is refused by the YAML bound, which says so. */
const SUPERVISOR_BODY_MAX = 2 * YAML_LIMITS.maxBytes;
/**
 * The longest any Supervisor1 method may take before it answers Timeout (the operation may go on
 * in the background). Below the CLI's own 30 s, so `hive` prints the named error, not its own.
 */
export const OPERATION_DEADLINE_MS = 20_000;
/**
 * How often the supervisor checks that every running node is listed in its parent's Children
 * (one Properties.Get per parent). A node seen out of place twice in a row is put back with
 * SetParent; one still out of place MISPLACED_RESTART_CHECKS checks after it was first seen is
 * restarted (a remote node only gets SetParent again).
 */
const PLACEMENT_CHECK_MS = 2000;
const MISPLACED_RESTART_CHECKS = 4;

export function builtinPluginExists(use: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_-]*$/.test(use) && existsSync(join(DIST, 'plugins', use, 'index.js'));
}

interface NodeRecord {
  name: string;
  spec: PluginSpec | undefined;
  kind: string;
  state: NodeState;
  launched: Launched | undefined;
  generation: number;
  unique: string | undefined;
  restarts: number;
  attempt: number;
  startedAt: number | undefined;
  intensity: RestartIntensity;
  /** The node it is attached to, as the supervisor arranged it. */
  currentParent: string | undefined;
  pendingParent: string | undefined;
  /** SetParent failures in a row, for the backoff of the retry. */
  moveFailures?: number;
  restartTimer: NodeJS.Timeout | undefined;
  wantStopped: boolean;
  diedAt: number | undefined;
  /** The generation (start) whose end was already dealt with. */
  decided: number;
  /** Why it is failed (the OS error of a spawn, an exit 2, too many restarts); cleared when it runs. */
  error: string | undefined;
  /**
   * Running but not where the supervisor put it: its parent's Children does not list it (another
   * connection attached under its name, or it was moved by someone else). Since when, or undefined.
   */
  misplacedSince: number | undefined;
  /** Checks in a row that found it out of place. */
  misplacedChecks: number;
  /** How many times it was found out of place (shown by `hive tree`). */
  misplacements: number;
}

export interface SupervisorOptions {
  config: HiveConfig;
  configDir: string;
  busAddress: string;
  token: string;
  log: Logger;
  /** The logger the nodes' own log lines go to, with each node's name bound. */
  nodeLog: Logger;
  /** Called when the hive should end (the terminal's input ended, or Shutdown was called). */
  onShutdown: (code: number) => void;
}

export class Supervisor {
  private bus!: MessageBus;
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly tree = new Map<string, TreeNode>();
  private ready = false;
  private shuttingDown = false;
  private readonly instance: string;
  private readonly terminal: boolean;

  constructor(private readonly o: SupervisorOptions) {
    this.instance = o.config.instance;
    this.terminal = Object.values(o.config.networks).some((n) => n.type === 'terminal');
  }

  get log(): Logger { return this.o.log; }

  async start(): Promise<void> {
    // Bodies are read header first: none the supervisor takes (a Load spec is the largest) is
    // bigger than SUPERVISOR_BODY_MAX, and a larger one from any caller is skipped unread.
    this.bus = await connectBus(this.o.busAddress, undefined, sizeGate(SUPERVISOR_BODY_MAX));
    this.bus.on('error', (err: unknown) => this.log.error({ err }, 'bus connection error'));
    this.bus.on('message', (msg: DBusMessage) => this.onBusMessage(msg));
    await addMatch(this.bus, `type='signal',sender='${DBUS.name}',interface='${DBUS.iface}',member='NameOwnerChanged',arg0namespace='${PREFIX}.${this.instance}'`);
    this.serve();
    const reply = await this.bus.requestName(supervisorBusName(this.instance), 0x4);
    if (reply !== 1 && reply !== 4) throw new HiveError('Failed', `another hive named '${this.instance}' is running on this bus`);

    this.addRecord(ROOT, undefined, 'mouth');
    for (const spec of treeOrder(this.o.config)) this.addRecord(spec.name, spec, spec.use ? 'plugin' : spec.remote ? 'remote' : 'exec');
    for (const r of this.nodes.values()) {
      if (r.spec?.remote) { r.state = 'stopped'; void this.lookForRemote(r); continue; }
      await this.launch(r);
    }
  }

  /** Resolves once every started node runs and is attached where it should be. */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.shuttingDown) return;
      const pending = await this.unattached();
      if (pending.length === 0) break;
      if (Date.now() > deadline) {
        this.log.warn({ pending }, 'tree not fully up in time; going on');
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    this.ready = true;
    this.log.info({ nodes: this.nodes.size }, 'tree ready');
    this.placementTimer = setInterval(() => void this.checkPlacement().catch((err) => this.log.error({ err }, 'placement check failed')), PLACEMENT_CHECK_MS);
  }

  private placementTimer: NodeJS.Timeout | undefined;
  private checkingPlacement = false;

  /** Whether `r` is in `children` (its parent's Children) as itself: by its own connection, or by its bus name (a child without a connection). */
  private listed(r: NodeRecord, children: [string, string][]): boolean {
    return children.some(([n, u]) => n === r.name && (u === r.unique || u === nodeBusName(this.instance, r.name)));
  }

  /** The running nodes whose parent is up, each with the parent it should be attached to. */
  private placed(): { r: NodeRecord; parent: string }[] {
    const out: { r: NodeRecord; parent: string }[] = [];
    for (const r of this.nodes.values()) {
      if (!r.spec || r.state !== 'running' || !r.unique || !r.currentParent || r.pendingParent) continue;
      const p = this.nodes.get(r.currentParent);
      if (p && (p.state === 'running' || p.state === 'held') && p.unique) out.push({ r, parent: r.currentParent });
    }
    return out;
  }

  /**
   * A node that lost its place (another connection attached under its name, someone else's
   * SetParent moved it) gets `NotChild` on every Send while it looks `running`: find it, say so
   * in `hive tree`, put it back, restart it if that does not help.
   */
  private async checkPlacement(): Promise<void> {
    if (this.shuttingDown || this.checkingPlacement) return;
    this.checkingPlacement = true;
    try {
      const wanted = this.placed();
      const lists = new Map<string, Promise<[string, string][] | undefined>>();
      for (const { parent } of wanted) if (!lists.has(parent)) lists.set(parent, this.childrenEntries(parent));
      for (const { r, parent } of wanted) {
        const children = await lists.get(parent)!;
        if (children === undefined || this.shuttingDown) continue;
        // The tree may have moved on while we asked.
        if (r.currentParent !== parent || r.state !== 'running' || r.pendingParent) continue;
        if (this.listed(r, children)) {
          if (r.misplacedSince !== undefined) this.log.info({ child: r.name, parent, ms: Date.now() - r.misplacedSince }, 'node back in place');
          r.misplacedSince = undefined;
          r.misplacedChecks = 0;
          continue;
        }
        r.misplacedChecks++;
        if (r.misplacedChecks === 1) continue; // maybe a move in flight: judged at the next check
        if (r.misplacedChecks === 2) {
          r.misplacedSince = Date.now();
          r.misplacements++;
          this.log.warn({ child: r.name, parent, listed: children.filter(([n]) => n === r.name) }, 'node is not attached where it should be (misplaced); putting it back');
        }
        if (r.misplacedChecks >= MISPLACED_RESTART_CHECKS && !r.spec?.remote && r.launched) {
          this.log.error({ child: r.name, parent }, 'misplaced node did not come back in place; restarting it');
          r.misplacedChecks = 0;
          r.launched.proc.kill('SIGTERM');
          continue;
        }
        void this.callNode(r.name, NODE_INTERFACE, 'SetParent', 'ss', [nodeBusName(this.instance, parent), this.o.token], 5000)
          .catch((err) => this.log.warn({ err, child: r.name, parent }, 'putting a misplaced node back failed'));
      }
    } finally {
      this.checkingPlacement = false;
    }
  }

  private async childrenEntries(node: string): Promise<[string, string][] | undefined> {
    try {
      const reply = await this.callNode(node, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [NODE_INTERFACE, 'Children'], 1000);
      return reply.body[0].value as [string, string][];
    } catch {
      return undefined;
    }
  }

  /** The started nodes that are not yet running or not attached to their parent. */
  private async unattached(): Promise<string[]> {
    const out: string[] = [];
    const children = new Map<string, Set<string>>();
    for (const r of this.nodes.values()) {
      if (r.spec?.remote || r.state === 'failed' || r.state === 'stopped') continue;
      if (r.state !== 'running') { out.push(r.name); continue; }
      if (r.name === ROOT) continue;
      const parent = r.currentParent!;
      if (!children.has(parent)) children.set(parent, new Set(await this.childrenOf(parent)));
      if (!children.get(parent)!.has(r.name)) out.push(r.name);
    }
    return out;
  }

  private async childrenOf(node: string): Promise<string[]> {
    try {
      const reply = await this.callNode(node, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [NODE_INTERFACE, 'Children'], 1000);
      return (reply.body[0].value as [string, string][]).map(([n]) => n);
    } catch {
      return [];
    }
  }

  private addRecord(name: string, spec: PluginSpec | undefined, kind: string): NodeRecord {
    const r: NodeRecord = {
      name, spec, kind, state: 'stopped', launched: undefined, generation: 0, unique: undefined,
      restarts: 0, attempt: 0, startedAt: undefined,
      intensity: createRestartIntensity({ max: spec?.restart.max ?? 5, withinMs: spec?.restart.within ?? 60_000 }),
      currentParent: undefined, pendingParent: undefined, restartTimer: undefined, wantStopped: false, diedAt: undefined, decided: 0,
      error: undefined, misplacedSince: undefined, misplacedChecks: 0, misplacements: 0,
    };
    this.nodes.set(name, r);
    if (spec) this.tree.set(name, { parent: spec.parent, onDeath: spec.on_death });
    return r;
  }

  /** The nodes as the planner (reparent.ts) sees them. */
  private views(): Map<string, NodeView> {
    const m = new Map<string, NodeView>();
    for (const r of this.nodes.values()) m.set(r.name, { state: r.state, current: r.currentParent, pending: r.pendingParent });
    return m;
  }

  // ---- launching -------------------------------------------------------------------------

  private commandOf(r: NodeRecord): { command: string[]; cwd?: string } {
    if (!r.spec) return { command: [process.execPath, MOUTH_ENTRY] };
    if (r.spec.use) return { command: [process.execPath, PLUGIN_RUNNER, r.spec.use] };
    return { command: r.spec.exec!, cwd: r.spec.cwd ?? this.o.configDir };
  }

  private async launch(r: NodeRecord): Promise<void> {
    const stateDir = join(this.o.config.state_dir, r.name);
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    let parent = '';
    if (r.spec) {
      parent = startingParent(r.name, this.tree, this.views());
      r.currentParent = parent;
    }
    const config = r.spec ? (r.spec.config ?? {}) : { networks: this.o.config.networks };
    const { command, cwd } = this.commandOf(r);
    const env = nodeEnv({
      bus: this.o.busAddress, instance: this.instance, name: r.name, parent: parent ? nodeBusName(this.instance, parent) : '',
      token: this.o.token, stateDir, config, commandPrefix: this.o.config.command_prefix, logLevel: this.o.config.log_level,
    });
    if (r.spec?.on_death === 'hold') env.HIVE_ON_DEATH = 'hold';
    r.generation++;
    r.wantStopped = false;
    r.unique = undefined;
    // A program that is not there will not appear by retrying: failed at once, with the OS's reason.
    const problem = programProblem(command[0]!, cwd, env.PATH);
    if (problem) {
      r.decided = r.generation;
      this.spawnFailed(r, problem);
      return;
    }
    this.setState(r, 'starting');
    const launched = launchNode({ name: r.name, command, cwd, env, terminal: !r.spec && this.terminal }, this.o.nodeLog);
    r.launched = launched;
    const generation = r.generation;
    this.log.info({ child: r.name, pid: launched.pid, attempt: r.attempt }, 'node started');
    if (!r.spec && this.terminal && this.ready) this.connectTerminal();
    void launched.exited.then(({ code, signal, spawnError }: Exit) => {
      if (r.generation !== generation) return;
      r.launched = undefined;
      if (spawnError && r.decided !== generation && !r.wantStopped && !this.shuttingDown) {
        r.decided = generation;
        this.spawnFailed(r, spawnError);
        return;
      }
      this.nodeDown(r, `exited with ${signal ?? code}`, code);
    });
  }

  /** The OS could not start the node's program: failed, not restarted, the reason in the tree and the log. */
  private spawnFailed(r: NodeRecord, error: string): void {
    r.error = `cannot start: ${error}`;
    this.log.error({ child: r.name, error }, 'node cannot be started; not restarting until it is fixed (hive start NODE tries again)');
    this.setState(r, 'failed');
    this.converge();
  }

  private stdinConnected = false;

  /** Gives the mouth the user's input once the tree is up, so that no line reaches an empty tree. */
  connectTerminal(): void {
    const mouth = this.nodes.get(ROOT)!;
    const stdin = mouth.launched?.proc.stdin;
    if (!stdin) return;
    if (this.stdinConnected) process.stdin.unpipe();
    this.stdinConnected = true;
    process.stdin.pipe(stdin);
    stdin.on('error', () => undefined);
  }

  // ---- watching --------------------------------------------------------------------------

  private onBusMessage(msg: DBusMessage): void {
    if (msg.type !== MessageType.SIGNAL || msg.sender !== DBUS.name || msg.member !== 'NameOwnerChanged') return;
    const [name, , owner] = msg.body as [string, string, string];
    const prefix = `${PREFIX}.${this.instance}.`;
    if (!name.startsWith(prefix)) return;
    const r = this.nodes.get(name.slice(prefix.length));
    if (!r) return;
    if (owner) {
      const known = r.unique === owner;
      r.unique = owner;
      if (r.spec?.remote) {
        if (!known) this.remoteSeen(r, owner);
        return;
      }
      r.startedAt = Date.now();
      if (r.state !== 'running') {
        this.setState(r, 'running');
        if (r.diedAt !== undefined) this.log.info({ child: r.name, downMs: Date.now() - r.diedAt }, 'node back');
        r.diedAt = undefined;
        this.converge();
      }
    } else if (r.unique) {
      r.unique = undefined;
      this.nameLost(r);
    }
  }

  /** A remote node may be on the bus before the supervisor looks (`hive load`, a shared bus). */
  private async lookForRemote(r: NodeRecord): Promise<void> {
    const owner = await nameOwner(this.bus, nodeBusName(this.instance, r.name));
    if (owner && !r.unique && this.nodes.get(r.name) === r) {
      r.unique = owner;
      this.remoteSeen(r, owner);
    }
  }

  private remoteSeen(r: NodeRecord, owner: string): void {
    r.startedAt = Date.now();
    void this.remoteAppeared(r, owner);
  }

  /**
   * A remote node took its name. It was started by hand, with a token and a parent of the
   * operator's choosing: SetParent puts it where the tree wants it, and proves that it holds this
   * hive's token. One started with the token of an earlier `hive up` could attach to nothing and
   * would refuse the children moved under it, so it gets none.
   */
  private async remoteAppeared(r: NodeRecord, owner: string): Promise<void> {
    let target = r.spec!.parent;
    // Held (a guard above it is down): it waits for its configured parent like any held node.
    try { target = startingParent(r.name, this.tree, this.views()); } catch (err) { this.log.error({ err }, 'tree inconsistent'); }
    try {
      await this.callNode(r.name, NODE_INTERFACE, 'SetParent', 'ss', [nodeBusName(this.instance, target), this.o.token], 5000);
    } catch (err) {
      if (r.unique !== owner) return;
      if (err instanceof HiveError && err.code === 'BadToken') {
        this.log.error({ child: r.name }, 'remote node does not hold this hive\'s token (made anew at every `hive up` unless HIVE_TOKEN_FILE keeps it): it gets no children; start it again with the token from the runtime file');
        this.setState(r, 'failed');
        this.converge();
        return;
      }
      // A refusal other than BadToken comes after the token check: the parent may just be
      // restarting, and the node follows it (or the node is slow to answer).
      this.log.info({ child: r.name, to: target, reason: (err as Error).message }, 'remote node not attached yet; it waits for its parent');
    }
    if (r.unique !== owner) return;
    r.currentParent = target;
    this.log.info({ child: r.name, parent: target, unique: owner }, 'remote node attached');
    this.setState(r, 'running');
    if (r.diedAt !== undefined) {
      // For a remote node, `restarts` counts its comebacks (a flaky tunnel shows there).
      r.restarts++;
      this.log.info({ child: r.name, downMs: Date.now() - r.diedAt }, 'node back');
    }
    r.diedAt = undefined;
    this.converge();
  }

  /**
   * The node's name left the bus. Its children move at once; whether it is restarted is decided
   * when its process exits (it may be stopping on purpose), and a process that stays without its
   * name is killed.
   */
  private nameLost(r: NodeRecord): void {
    if (r.spec?.remote) {
      this.log.warn({ child: r.name }, 'remote node vanished; waiting for it to come back');
      r.diedAt = Date.now();
      this.setState(r, 'stopped');
      this.converge();
      return;
    }
    const launched = r.launched;
    if (!launched) { this.nodeDown(r, 'left the bus', null); return; }
    if (r.state === 'running' || r.state === 'held' || r.state === 'starting') {
      r.diedAt = Date.now();
      this.setState(r, r.wantStopped || this.shuttingDown ? 'stopped' : 'restarting');
      this.converge();
    }
    // Killed only if the name stays lost: a child without a connection gets its name back when it
    // joins its next parent (docs/protocol.md#a-node-without-a-connection).
    const t = setTimeout(() => { if (r.launched === launched && !r.unique) launched.proc.kill('SIGKILL'); }, 2000);
    void launched.exited.then(() => clearTimeout(t));
  }

  /** Decides, once per start, what to do about a node that is gone: stop, restart or give up. */
  private nodeDown(r: NodeRecord, why: string, code: number | null): void {
    if (r.decided === r.generation || r.state === 'failed' || r.state === 'stopped') return;
    r.decided = r.generation;
    r.diedAt ??= Date.now();
    r.unique = undefined;
    if (this.shuttingDown || r.wantStopped) {
      this.setState(r, 'stopped');
      this.converge();
      return;
    }
    if (!r.spec && this.terminal && code === 0) {
      this.log.info('the mouth finished (end of terminal input); shutting down');
      this.setState(r, 'stopped');
      this.o.onShutdown(0);
      return;
    }
    if (code === 2) {
      // Exit 2 is a node refusing its environment or its plugin config (docs/protocol.md#exit-codes):
      // starting it again would fail the same way.
      this.log.error({ child: r.name, why }, 'node refused its configuration (exit 2); not restarting until the config is fixed');
      r.error = 'refused its configuration (exit 2); see the log';
      this.setState(r, 'failed');
      this.converge();
      return;
    }
    const decision = r.intensity.record(Date.now());
    if (decision === 'give-up') {
      this.log.error({ child: r.name, why, restarts: r.restarts }, 'node failed: too many restarts; not restarting');
      r.error = `too many restarts (last: ${why})`;
      this.setState(r, 'failed');
      this.converge();
      return;
    }
    const delayMs = backoffDelay(r.attempt++, { baseMs: 100, maxMs: 30_000 });
    this.log.warn({ child: r.name, why, delayMs, attempt: r.attempt }, 'node died; restarting');
    this.setState(r, 'restarting');
    this.converge();
    r.restartTimer = setTimeout(() => {
      r.restartTimer = undefined;
      r.restarts++;
      void this.launch(r).catch((err) => this.log.error({ err, child: r.name }, 'restart failed'));
    }, delayMs);
  }

  private setState(r: NodeRecord, state: NodeState): void {
    if (r.state === state) return;
    r.state = state;
    if (state === 'running') { r.attempt = 0; r.error = undefined; }
    if (state !== 'running' && state !== 'held') { r.misplacedSince = undefined; r.misplacedChecks = 0; }
    if (this.bus) this.bus.send(Message.newSignal(SUPERVISOR_PATH, SUPERVISOR_INTERFACE, 'NodeStateChanged', 'ss', [r.name, state]));
  }

  /** Moves every live node to where it should be attached now: planned in reparent.ts, applied here. */
  private converge(): void {
    if (this.shuttingDown) return;
    let steps: ConvergeStep[];
    try { steps = planConvergence(this.tree, this.views()); } catch (err) { this.log.error({ err }, 'tree inconsistent'); return; }
    for (const step of steps) {
      const r = this.nodes.get(step.node)!;
      if (step.do === 'hold') {
        this.setState(r, 'held');
        this.log.warn({ child: r.name, holder: step.holder }, 'node held: its guard is down');
      } else if (step.do === 'release') this.setState(r, 'running');
      else void this.moveNode(r, step.to);
    }
  }

  private async moveNode(r: NodeRecord, to: string): Promise<void> {
    const from = r.currentParent;
    const t0 = performance.now();
    r.pendingParent = to;
    try {
      await this.callNode(r.name, NODE_INTERFACE, 'SetParent', 'ss', [nodeBusName(this.instance, to), this.o.token], 5000);
      r.currentParent = to;
      r.moveFailures = 0;
      this.log.info({ child: r.name, from, to, ms: Math.round((performance.now() - t0) * 10) / 10 }, 'node re-parented');
    } catch (err) {
      // Try again, but not at once: a SetParent that fails at once would otherwise loop as fast as the bus answers.
      r.moveFailures = (r.moveFailures ?? 0) + 1;
      const delayMs = backoffDelay(r.moveFailures - 1, { baseMs: 100, maxMs: 5_000 });
      this.log.warn({ err, child: r.name, to, retryInMs: delayMs }, 're-parent failed');
      if (r.pendingParent === to) r.pendingParent = undefined;
      setTimeout(() => this.converge(), delayMs).unref();
      return;
    } finally {
      if (r.pendingParent === to) r.pendingParent = undefined;
    }
    // The tree may have changed again meanwhile.
    this.converge();
  }

  private callNode(node: string, iface: string, member: string, signature: string, body: unknown[], timeoutMs: number) {
    return callWithDeadline(this.bus, { destination: nodeBusName(this.instance, node), path: NODE_PATH, interface: iface, member, signature, body }, timeoutMs);
  }

  // ---- control ---------------------------------------------------------------------------

  private record(name: string): NodeRecord {
    const r = this.nodes.get(name);
    if (!r) throw new HiveError('NoSuchNode', `no node '${name}'; nodes: ${[...this.nodes.keys()].join(', ')}`);
    return r;
  }

  /** A remote node's process is not the supervisor's: refused (InvalidArgs, `hive` exit 4). */
  private refuseRemote(r: NodeRecord, what: string): void {
    if (r.spec?.remote) throw new HiveError('InvalidArgs', `'${r.name}' is a remote node (remote: true): the supervisor did not start it and cannot ${what} it; do that on the host where it runs (docs/deploy.md)`);
  }

  async stopNode(name: string): Promise<void> {
    const r = this.record(name);
    this.refuseRemote(r, 'stop');
    r.wantStopped = true;
    if (r.restartTimer) { clearTimeout(r.restartTimer); r.restartTimer = undefined; }
    const launched = r.launched;
    if (!launched) { this.setState(r, 'stopped'); this.converge(); return; }
    await this.terminate(r, launched);
    this.setState(r, 'stopped');
    this.converge();
  }

  /**
   * SIGTERM, SIGKILL after STOP_GRACE_MS, and at most KILL_WAIT_MS more: bounded even for a
   * process that never started or cannot die (D state), which is then logged and left.
   */
  private async terminate(r: NodeRecord, launched: Launched): Promise<void> {
    const gone = await stopWithDeadline({
      gone: launched.exited, ask: () => launched.proc.kill('SIGTERM'), force: () => launched.proc.kill('SIGKILL'), graceMs: STOP_GRACE_MS, forceWaitMs: KILL_WAIT_MS,
    });
    if (!gone) {
      this.log.error({ child: r.name, pid: launched.pid }, `node did not exit within ${STOP_GRACE_MS + KILL_WAIT_MS} ms of SIGTERM and SIGKILL; giving up on it`);
      if (r.launched === launched) r.launched = undefined;
    }
  }

  async startNode(name: string): Promise<void> {
    const r = this.record(name);
    this.refuseRemote(r, 'start');
    if (r.state === 'running' || r.state === 'starting' || r.state === 'held') return;
    if (r.restartTimer) { clearTimeout(r.restartTimer); r.restartTimer = undefined; }
    r.intensity.reset();
    r.attempt = 0;
    await this.launch(r);
    // Its program still cannot be started: say so to the caller (`hive start` exits 1 with the reason).
    if (r.state === 'failed' && r.error) throw new HiveError('Failed', `'${name}' ${r.error}`);
  }

  async restartNode(name: string): Promise<void> {
    this.refuseRemote(this.record(name), 'restart');
    await this.stopNode(name);
    await this.startNode(name);
  }

  /**
   * Supervisor1.Load: the same bounds (YAML_LIMITS) and the same per-entry checks
   * (checkPluginSpec: reserved names, one of use/exec/remote, …) as a plugin in the config file.
   */
  async load(text: string): Promise<string> {
    try {
      return await this.loadChecked(text);
    } catch (err) {
      if (err instanceof HiveError && err.code === 'InvalidArgs') this.log.warn({ problems: err.message.slice(0, 2000) }, 'Load refused');
      throw err;
    }
  }

  private async loadChecked(text: string): Promise<string> {
    const parsed = parseBoundedYaml(text, 'the plugin spec');
    if ('problems' in parsed) throw new HiveError('InvalidArgs', parsed.problems.map(formatProblem).join('\n'));
    const raw = parsed.value;
    const entry = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? raw as Record<string, unknown> : {};
    const checked = checkPluginSpec(entry).map(formatProblem);
    const r = pluginSchema.safeParse(raw);
    if (!r.success) throw new HiveError('InvalidArgs', [...zodProblems(r.error.issues, raw).map(formatProblem), ...checked].join('\n'));
    const spec = r.data;
    const problems: string[] = [...checked];
    if (this.nodes.has(spec.name)) problems.push(`\`name\`: '${spec.name}' is already a node`);
    if (!this.nodes.has(spec.parent)) problems.push(`\`parent\`: '${spec.parent}' is not a node; expected one of: ${[...this.nodes.keys()].join(', ')}`);
    if (problems.length) throw new HiveError('InvalidArgs', problems.join('\n'));
    const rec = this.addRecord(spec.name, spec, spec.use ? 'plugin' : spec.remote ? 'remote' : 'exec');
    this.log.info({ child: spec.name, parent: spec.parent }, 'node loaded');
    if (spec.remote) void this.lookForRemote(rec);
    else await this.launch(rec);
    return spec.name;
  }

  async unload(name: string): Promise<void> {
    const r = this.record(name);
    if (!r.spec) throw new HiveError('Failed', 'the mouth cannot be unloaded');
    if (!r.spec.remote) await this.stopNode(name);
    const parent = r.spec.parent;
    for (const [child, t] of this.tree) {
      if (t.parent === name) {
        this.tree.set(child, { ...t, parent });
        const c = this.nodes.get(child)!;
        if (c.spec) c.spec = { ...c.spec, parent };
      }
    }
    this.tree.delete(name);
    this.nodes.delete(name);
    this.log.info({ child: name }, 'node unloaded');
    this.converge();
  }

  async treeJson(): Promise<string> {
    const states = liveStates(this.views());
    const shouldBe = new Map(this.placed().map(({ r, parent }) => [r.name, parent]));
    const lists = new Map<string, Promise<[string, string][] | undefined>>();
    for (const parent of shouldBe.values()) if (!lists.has(parent)) lists.set(parent, this.childrenEntries(parent));
    const nodes = await Promise.all([...this.nodes.values()].map(async (r) => {
      let counters: Record<string, number> = {};
      let kind = r.spec ? r.kind : 'mouth';
      if (r.state === 'running' || r.state === 'held') {
        try {
          const reply = await this.callNode(r.name, 'org.freedesktop.DBus.Properties', 'GetAll', 's', [NODE_INTERFACE], 1000);
          const props = reply.body[0] as Record<string, { value: unknown }>;
          kind = String(props.Kind?.value ?? kind);
          counters = Object.fromEntries(Object.entries((props.Counters?.value ?? {}) as Record<string, bigint>).map(([k, v]) => [k, Number(v)]));
        } catch { /* the node may be going down just now */ }
      }
      let parent: string | null = null;
      if (r.spec) {
        try {
          const c = chooseNewParent(r.name, this.tree, states);
          parent = 'parent' in c ? c.parent : r.currentParent ?? r.spec.parent;
        } catch { parent = r.currentParent ?? null; }
      }
      const expected = shouldBe.get(r.name);
      const children = expected ? await lists.get(expected)! : undefined;
      // Seen now, or by the last check (a check that could not ask the parent keeps the flag).
      // A node that just took its name attaches a moment later: not judged within its first check period.
      const settled = r.misplacedChecks > 0 || Date.now() - (r.startedAt ?? 0) > PLACEMENT_CHECK_MS;
      const misplaced = children ? settled && !this.listed(r, children) && r.pendingParent === undefined : r.misplacedSince !== undefined;
      return {
        name: r.name,
        kind,
        pid: r.launched?.pid ?? null,
        remote: r.spec?.remote === true,
        bus_name: nodeBusName(this.instance, r.name),
        unique_name: r.unique ?? null,
        parent,
        configured_parent: r.spec ? r.spec.parent : null,
        state: r.state,
        restarts: r.restarts,
        uptime_ms: r.state === 'running' && r.startedAt ? Date.now() - r.startedAt : 0,
        counters,
        misplaced,
        misplacements: r.misplacements,
        error: r.error ?? null,
      };
    }));
    return JSON.stringify({ instance: this.instance, nodes });
  }

  /** Every operation answers within OPERATION_DEADLINE_MS: Timeout (logged) if it is not done by then. */
  private bounded<T>(what: string, p: Promise<T>): Promise<T> {
    return withDeadline(p, OPERATION_DEADLINE_MS, what).catch((err: unknown) => {
      if (err instanceof HiveError && err.code === 'Timeout') this.log.error({ operation: what }, err.message);
      throw err;
    });
  }

  private serve(): void {
    this.bus.addMethodHandler((msg: DBusMessage) => answerUnread(this.bus, msg, SUPERVISOR_BODY_MAX, 'Supervisor') !== undefined);
    serveObject(this.bus, {
      path: SUPERVISOR_PATH,
      spec: SUPERVISOR1,
      log: this.log,
      properties: () => ({ Instance: this.instance, Ready: this.ready }),
      methods: {
        Tree: async () => [await this.bounded('Tree', this.treeJson())],
        Start: async (m) => { await this.bounded('Start', this.startNode(m.body[0] as string)); },
        Stop: async (m) => { await this.bounded('Stop', this.stopNode(m.body[0] as string)); },
        Restart: async (m) => { await this.bounded('Restart', this.restartNode(m.body[0] as string)); },
        Load: async (m) => [await this.bounded('Load', this.load(m.body[0] as string))],
        Unload: async (m) => { await this.bounded('Unload', this.unload(m.body[0] as string)); },
        Shutdown: () => { setImmediate(() => this.o.onShutdown(0)); },
      },
    });
  }

  // ---- shutdown --------------------------------------------------------------------------

  /** Stops the leaves first, then their parents, the mouth last. */
  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const r of this.nodes.values()) if (r.restartTimer) clearTimeout(r.restartTimer);
    clearInterval(this.placementTimer);
    for (const wave of stopWaves(this.tree)) {
      await Promise.all(wave.map((name) => this.nodes.get(name)).filter((r) => r !== undefined).map(async (r) => {
        r.wantStopped = true;
        const l = r.launched;
        if (!l) return;
        await this.terminate(r, l);
      }));
    }
    this.log.info('all nodes stopped');
    try { this.bus.disconnect(); } catch { /* already gone */ }
  }

  /** The second signal: no more waiting. */
  forceKill(): void {
    for (const r of this.nodes.values()) r.launched?.proc.kill('SIGKILL');
  }
}
