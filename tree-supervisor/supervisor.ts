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
 *   place with SetParent) and to vanish, like a node that died;
 * - a node's name is taken as the node only from the connection of the process (or proxy) the
 *   supervisor started for it (ownedByNode); anyone else is an impostor, logged and counted.
 *
 * Every move is a SetParent call on the child (from the supervisor's connection, which is what the
 * node checks; its token is ''); a node follows its parent's well-known name after asking
 * CheckParent, so a restarted parent is re-joined by its children on their own. Each node runs at its trust level (node-isolation.ts: direct, through
 * its own proxy, or sandboxed too) with its own credential (credentials.ts). Where nodes
 * should be is planned in reparent.ts and applied here; what to do about a death is decided in
 * restart-policy.ts; the D-Bus service is supervisor-service.ts, `hive tree`'s view tree-view.ts,
 * the misplacement checks placement.ts, remote nodes remote-node.ts, the operator's gate operators.ts.
 *
 * Longer than most modules (~650 lines; the owner check of issue 16's review could move to a module
 * of its own) for the reason OTP's supervisor.erl is: it is one state
 * machine over the node records, and every event it handles (a process exit, NameOwnerChanged, an
 * operator's call) changes the same records; the pure decisions and the side jobs are elsewhere.
 */
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { HiveError } from '../protocol/errors.js';
import { ENV, NODE_INTERFACE, NODE_PATH, SUPERVISOR_INTERFACE, SUPERVISOR_PATH, nodeBusName, supervisorBusName, PREFIX } from '../protocol/names.js';
import { DBUS, Message, MessageType, addMatch, callBus, callWithDeadline, connectBus, sizeGate, type DBusMessage, type MessageBus } from '../protocol/sdk/bus.js';
import { backoffDelay } from '../protocol/backoff.js';
import type { HiveConfig, PluginSpec } from './config.js';
import { treeOrder } from './tree-order.js';
import { parseLoadSpecChecked, readHiveConfigChecked } from './config-checker.js';
import { SANDBOX_ON_SESSION_BUS } from './config-checks.js';
import { launchNode, nodeCommand, nodeEnv, programProblem, type Exit, type Launched } from './node-process.js';
import { planConvergence, ROOT, startingParent, stopWaves, type ConvergeStep, type NodeState, type TreeNode } from './reparent.js';
import { stopWithDeadline, withDeadline } from './deadline.js';
import { newRecord, viewsOf, type NodeRecord } from './node-record.js';
import { decideOnDeath } from './restart-policy.js';
import { PLACEMENT_CHECK_MS, placementChecker, type ChildEntries } from './placement.js';
import { serveSupervisor, SUPERVISOR_BODY_MAX } from './supervisor-service.js';
import { treeView } from './tree-view.js';
import { RemoteNodes } from './remote-node.js';
import { credentialMatches, nodeCredential } from './credentials.js';
import { isolate, nodeSocketDir } from './node-isolation.js';
import { ancestorsOf, sandboxOf } from './trust.js';
import { isProcessUnder } from './process-tree.js';
import { createLogLimiter } from '../protocol/log-limit.js';
import { sandboxedProcess, sandboxEnv } from './sandbox.js';
import type { BusProxy } from './bus-proxy.js';
import { NodeLogs, teeLogLines } from './node-logs.js';
import { planReload, type ReloadPlan, type RunningPlugin } from './reload-plan.js';
import { ConfigError } from './config-errors.js';
import { MOUTH1, MOUTH_PATH } from '../protocol/mouth1.js';
import { runModeOf } from './node-record.js';
import { createRestartIntensity } from './restart-intensity.js';
import { trustOf } from './trust.js';

export { OPERATION_DEADLINE_MS } from './supervisor-service.js';
export { builtinPluginExists } from './node-process.js';
export { withDeadline } from './deadline.js';

/** SIGTERM, then SIGKILL after this long. */
const STOP_GRACE_MS = 5000;
/** After SIGKILL, how long to wait for the exit before the node is given up as stopped (a process in D state). */
const KILL_WAIT_MS = 2000;
/** The longest a bus call of the start-up may take: a bus that went away must not hold `hive up` (docs/cli.md#deadlines). */
export const START_CALL_MS = 5000;

export interface SupervisorOptions {
  config: HiveConfig;
  configDir: string;
  /** The config file, when there is one: hidden from sandboxed nodes. */
  configFile?: string;
  busAddress: string;
  /** The hive secret: the operator's credential, from which each node's is derived (credentials.ts). */
  secret: string;
  /** Where the nodes' proxy sockets go (runtime-file.ts's runtimeDir). */
  runtimeDir: string;
  log: Logger;
  /** The logger the nodes' own log lines go to, with each node's name bound. */
  nodeLog: Logger;
  /** Called when the hive should end (the terminal's input ended, or Shutdown was called). */
  onShutdown: (code: number) => void;
  /** Called around a reload (sd-notify's RELOADING=1, then READY=1 with its new STATUS). */
  onReload?: (phase: 'start' | 'end') => void;
  /** Called when a node changes state (sd-notify's STATUS). */
  onStateChange?: () => void;
}

/** What Supervisor1.Reload answers: the plan, whether it was applied, and what failed on the way. */
export interface ReloadResult {
  file: string;
  plan: ReloadPlan;
  applied: boolean;
  errors: string[];
  /** What the mouth did to each changed network (`channels`, `restarted` for one that cannot change its channels live, …). */
  networks?: { network: string; did: string }[];
}

/** How long the mouth may take to apply a change of its networks (each removed one waits up to 1 s for its QUIT). */
const CONFIGURE_MS = 15_000;

export class Supervisor {
  private bus: MessageBus | undefined;
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly tree = new Map<string, TreeNode>();
  private ready = false;
  private shuttingDown = false;
  private readonly instance: string;
  private readonly terminal: boolean;
  private placementTimer: NodeJS.Timeout | undefined;
  private stdinConnected = false;
  private readonly remotes: RemoteNodes;
  private impostors = 0;
  private readonly impostorLog = createLogLimiter();
  /**
   * Every config file the hive has read (the one it started with, each one given to a reload):
   * all hidden from sandboxed nodes, whichever the hive runs now (an older one holds secrets too).
   */
  private readonly configFiles = new Set<string>();
  /** Each node's recent log lines (Supervisor1.Logs). */
  readonly logs = new NodeLogs((name) => this.nodes.has(name));

  constructor(private readonly o: SupervisorOptions) {
    this.instance = o.config.instance;
    if (o.configFile) this.configFiles.add(resolve(o.configFile));
    teeLogLines([o.nodeLog, o.log], (line) => this.logs.take(line));
    this.terminal = Object.values(o.config.networks).some((n) => n.type === 'terminal');
    this.remotes = new RemoteNodes({
      nodes: this.nodes, tree: this.tree, instance: this.instance, log: o.log, busAddress: o.busAddress, runtimeDir: o.runtimeDir,
      credentialOf: (n) => this.credentialOf(n), bus: () => this.bus!, callNode: (...a) => this.callNode(...a), setState: (r, s) => this.setState(r, s), converge: () => this.converge(),
    });
  }

  get log(): Logger { return this.o.log; }

  async start(): Promise<void> {
    // Bodies are read header first: none the supervisor takes (a Load spec is the largest) is
    // bigger than SUPERVISOR_BODY_MAX, and a larger one from any caller is skipped unread.
    const bus = await connectBus(this.o.busAddress, START_CALL_MS, sizeGate(SUPERVISOR_BODY_MAX));
    this.bus = bus;
    this.notShuttingDown();
    bus.on('error', (err: unknown) => this.log.error({ err }, 'bus connection error'));
    bus.on('message', (msg: DBusMessage) => this.onBusMessage(msg));
    await addMatch(bus, `type='signal',sender='${DBUS.name}',interface='${DBUS.iface}',member='NameOwnerChanged',arg0namespace='${PREFIX}.${this.instance}'`);
    serveSupervisor(bus, {
      instance: this.instance, log: this.log, secret: this.o.secret, ready: () => this.ready,
      ops: {
        vouch: (name, credential, caller) => this.vouch(name, credential, caller),
        checkParent: (child, parent) => this.checkParent(child, parent), impostors: () => this.impostors, reloadsRefused: () => this.reloadsRefused,
        remoteAccess: (n) => this.remotes.access(this.record(n)),
        treeJson: async () => JSON.stringify(await this.treeView()),
        logs: (n, max) => { this.record(n); return this.logs.lines(n, max); },
        reload: async (file, dryRun) => JSON.stringify(await this.reload({ file: file || undefined, dryRun })),
        startNode: (n) => this.startNode(n), stopNode: (n) => this.stopNode(n), restartNode: (n) => this.restartNode(n),
        load: (spec) => this.load(spec), unload: (n) => this.unload(n), shutdown: () => this.o.onShutdown(0),
        isTerminalMouth: (caller) => this.terminal && caller !== undefined && [...this.nodes.values()].some((r) => !r.spec && r.unique === caller),
      },
    });
    // dbus-next never settles a call whose connection closed: without a deadline, a bus lost here held `hive up` for ever.
    const reply = await withDeadline(bus.requestName(supervisorBusName(this.instance), 0x4), START_CALL_MS, 'requesting the supervisor\'s bus name');
    if (reply !== 1 && reply !== 4) throw new HiveError('Failed', `another hive named '${this.instance}' is running on this bus`);

    this.addRecord(ROOT, undefined);
    for (const spec of treeOrder(this.o.config)) this.addRecord(spec.name, spec, true);
    for (const r of this.nodes.values()) {
      this.notShuttingDown();
      if (r.spec?.remote) { r.state = 'stopped'; await this.remotes.open(r); continue; }
      await this.launch(r);
    }
  }

  /** A shutdown that came during start-up ends the start-up: nothing is launched after it. */
  private notShuttingDown(): void {
    if (this.shuttingDown) throw new HiveError('Failed', 'the hive was shut down during start-up');
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
    const check = placementChecker({
      nodes: this.nodes, instance: this.instance, log: this.log, stopping: () => this.shuttingDown,
      childrenEntries: (n) => this.childrenEntries(n), putBack: (r, parent) => this.setParent(r.name, parent),
      askToStop: (r, launched) => this.askToStop(r, launched),
    });
    this.placementTimer = setInterval(() => void check().catch((err) => this.log.error({ err }, 'placement check failed')), PLACEMENT_CHECK_MS);
  }

  private async childrenEntries(node: string): Promise<ChildEntries | undefined> {
    try {
      const reply = await this.callNode(node, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [NODE_INTERFACE, 'Children'], 1000);
      return reply.body[0].value as ChildEntries;
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
      if (!children.has(parent)) children.set(parent, new Set(((await this.childrenEntries(parent)) ?? []).map(([n]) => n)));
      if (!children.get(parent)!.has(r.name)) out.push(r.name);
    }
    return out;
  }

  private addRecord(name: string, spec: PluginSpec | undefined, fromFile = false): NodeRecord {
    const r = newRecord(name, spec, fromFile);
    this.nodes.set(name, r);
    if (spec) this.tree.set(name, { parent: spec.parent, onDeath: spec.on_death });
    return r;
  }

  // ---- launching -------------------------------------------------------------------------

  private async launch(r: NodeRecord): Promise<void> {
    const stateDir = join(this.o.config.state_dir, r.name);
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    let parent = '';
    if (r.spec) {
      parent = startingParent(r.name, this.tree, viewsOf(this.nodes.values()));
      r.currentParent = parent;
    }
    const config = r.spec ? (r.spec.config ?? {}) : { networks: this.o.config.networks };
    const { command: program, cwd } = nodeCommand(r.spec, this.o.configDir);
    const env = nodeEnv({
      bus: this.o.busAddress, instance: this.instance, name: r.name, parent: parent ? nodeBusName(this.instance, parent) : '',
      token: this.credentialOf(r.name), stateDir, config, commandPrefix: this.o.config.command_prefix, logLevel: this.o.config.log_level,
      // No node has it as parent now: a filter may take its own routes only until a child comes.
      leaf: ![...this.tree.values()].some((t) => t.parent === r.name),
    });
    if (r.spec?.on_death === 'hold') env.HIVE_ON_DEATH = 'hold';
    r.generation++;
    r.wantStopped = false;
    r.unique = undefined;
    // A program that is not there will not appear by retrying: failed at once, with the OS's reason.
    const problem = programProblem(program[0]!, cwd, env.PATH);
    if (problem) {
      r.decided = r.generation;
      this.spawnFailed(r, problem);
      return;
    }
    this.setState(r, 'starting');
    const generation = r.generation;
    // Its proxy (and sandbox) come new with each start: the one of an earlier start is gone first.
    const old = r.proxy;
    r.proxy = undefined;
    await old?.stop();
    await r.proxyGone;
    let command: string[];
    let proxy: BusProxy | undefined;
    try {
      const isolated = await isolate({
        trust: r.trust, sandbox: r.spec && sandboxOf(r.spec), name: r.name, instance: this.instance, busAddress: this.o.busAddress, runtimeDir: this.o.runtimeDir,
        stateRoot: this.o.config.state_dir, stateDir, command: program, cwd, configDir: this.o.configDir, tree: this.tree, generation,
        secretFiles: [...this.configFiles, process.env.HIVE_TOKEN_FILE && resolve(process.env.HIVE_TOKEN_FILE)].filter((f): f is string => !!f),
      });
      proxy = isolated.proxy;
      command = isolated.command;
      env[ENV.busAddress] = env.DBUS_SESSION_BUS_ADDRESS = isolated.busAddress;
    } catch (err) {
      r.decided = r.generation;
      this.spawnFailed(r, `its ${r.trust} connection: ${(err as Error).message}`);
      return;
    }
    // A later start (or a stop) superseded this one while the proxy started: only this start's proxy goes.
    if (r.generation !== generation || r.wantStopped || this.shuttingDown) { await proxy?.stop(); return; }
    r.proxy = proxy;
    const launched = launchNode({ name: r.name, command, cwd, env: r.trust === 'sandboxed' ? sandboxEnv(env) : env, terminal: !r.spec && this.terminal }, this.o.nodeLog);
    r.launched = launched;
    this.log.info({ child: r.name, pid: launched.pid, attempt: r.attempt, trust: r.trust }, 'node started');
    if (!r.spec && this.terminal && this.ready) this.connectTerminal();
    void launched.exited.then(({ code, signal, spawnError }: Exit) => {
      // The proxy lives and dies with its node's process: this start's, whatever came since.
      if (proxy) {
        if (r.proxy === proxy) r.proxy = undefined;
        const gone = proxy.stop().catch((err: unknown) => this.log.warn({ err, child: r.name }, 'proxy did not stop'));
        r.proxyGone = Promise.all([r.proxyGone, gone]).then(() => undefined);
      }
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
    const seq = ++r.ownerEvents;
    if (owner) {
      if (r.spec?.remote) {
        const known = r.unique === owner;
        r.unique = owner;
        if (!known) { void this.learnKind(r, owner); this.remotes.seen(r, owner); }
        return;
      }
      if (r.unique === owner) return;
      // A node that is not running is never taken over: known at once, so counted even when the
      // taker lets go before an asynchronous check could finish (both signals in one read).
      if (r.state === 'stopped' || r.state === 'failed' || !r.launched) {
        this.impostor(r, owner);
        r.pendingOwner = { owner, check: Promise.resolve(false) };
        return;
      }
      const check = this.ownedByNode(r, owner).then((ok) => {
        if (seq !== r.ownerEvents) return false; // the name moved on while we asked
        if (ok) this.nameTaken(r, owner);
        else this.impostor(r, owner);
        return ok;
      });
      r.pendingOwner = { owner, check };
    } else if (r.unique) {
      r.unique = undefined;
      this.nameLost(r);
    }
  }

  /** A connection the supervisor accepted as node `r` owns its name now. */
  private nameTaken(r: NodeRecord, owner: string): void {
    r.unique = owner;
    void this.learnKind(r, owner);
    r.startedAt = Date.now();
    if (r.state !== 'running') {
      this.setState(r, 'running');
      if (r.diedAt !== undefined) this.log.info({ child: r.name, downMs: Date.now() - r.diedAt }, 'node back');
      r.diedAt = undefined;
      this.converge();
    }
  }

  /** Someone the supervisor did not start took a node's name: logged and counted; the node's state does not change. */
  private impostor(r: NodeRecord, owner: string): void {
    this.impostors++;
    const suppressed = this.impostorLog.take(r.name);
    if (suppressed !== undefined) this.log.error({ child: r.name, owner, state: r.state, suppressed }, 'impostor: a connection the supervisor did not start took this node\'s name; not taken as the node');
  }

  /**
   * Whether `owner` may be node `r`: its process (or one of the process's own children, a shell
   * plugin's gdbus) or its proxy, by the pid the bus knows; for a program's node that holds no
   * connection (docs/protocol.md#a-node-without-a-connection), the accepted connection of one of
   * its configured ancestors, while its process runs. A stopped or failed node is never taken over.
   */
  private async ownedByNode(r: NodeRecord, owner: string): Promise<boolean> {
    const launched = r.launched!; // the caller has checked that the node runs
    const proxyPid = r.proxy?.pid;
    let pid: number;
    try { pid = Number((await callBus(this.bus!, 'GetConnectionUnixProcessID', 's', [owner], 2000)).body[0]); } catch { return false; }
    if (r.launched !== launched) return false;
    if (pid === proxyPid || isProcessUnder(pid, launched.pid)) return true;
    return !!r.spec && !r.spec.use && ancestorsOf(r.name, this.tree).some((a) => this.nodes.get(a)?.unique === owner);
  }

  /**
   * Supervisor1.CheckParent: `parent` is the accepted connection of a configured ancestor of
   * `child`. A child asks as soon as it sees its parent's name taken, which the supervisor heard
   * first (the bus orders them) but may still be checking: that check is awaited.
   */
  private async checkParent(child: string, parent: string): Promise<boolean> {
    if (!this.tree.has(child)) return false;
    const ancestors = ancestorsOf(child, this.tree).map((a) => this.nodes.get(a)).filter((a) => a !== undefined);
    if (ancestors.some((a) => a.unique === parent)) return true;
    const pending = ancestors.filter((a) => a.pendingOwner?.owner === parent);
    await Promise.all(pending.map((a) => a.pendingOwner!.check));
    return ancestors.some((a) => a.unique === parent);
  }

  /** The node's kind, as it says (Node1.Kind): kept on the record, so `hive tree` shows it while the node is down too. */
  private async learnKind(r: NodeRecord, owner: string): Promise<void> {
    try {
      const reply = await this.callNode(r.name, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [NODE_INTERFACE, 'Kind'], 2000);
      if (r.unique === owner) r.kind = String(reply.body[0].value);
    } catch { /* a node that does not answer keeps what was known; the next start asks again */ }
  }

  /**
   * The node's name left the bus. Its children move at once; whether it is restarted is decided
   * when its process exits (it may be stopping on purpose), and a process that stays without its
   * name is killed.
   */
  private nameLost(r: NodeRecord): void {
    if (r.spec?.remote) { this.remotes.vanished(r); return; }
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

  /** Decides, once per start, what to do about a node that is gone (restart-policy.ts), and does it. */
  private nodeDown(r: NodeRecord, why: string, code: number | null): void {
    if (r.decided === r.generation || r.state === 'failed' || r.state === 'stopped') return;
    r.decided = r.generation;
    r.diedAt ??= Date.now();
    r.unique = undefined;
    const decision = decideOnDeath({ stopping: this.shuttingDown || r.wantStopped, terminalMouth: !r.spec && this.terminal, code, why, attempt: r.attempt, now: Date.now() }, r.intensity);
    switch (decision.do) {
      case 'stop':
        this.setState(r, 'stopped');
        this.converge();
        return;
      case 'end-hive':
        this.log.info('the mouth finished (end of terminal input); shutting down');
        this.setState(r, 'stopped');
        this.o.onShutdown(0);
        return;
      case 'fail':
        if (decision.because === 'refused-config') this.log.error({ child: r.name, why }, 'node refused its configuration (exit 2); not restarting until the config is fixed');
        else this.log.error({ child: r.name, why, restarts: r.restarts }, 'node failed: too many restarts; not restarting');
        r.error = decision.error;
        this.setState(r, 'failed');
        this.converge();
        return;
      case 'restart': {
        r.attempt++;
        this.log.warn({ child: r.name, why, delayMs: decision.delayMs, attempt: r.attempt }, 'node died; restarting');
        this.setState(r, 'restarting');
        this.converge();
        r.restartTimer = setTimeout(() => {
          r.restartTimer = undefined;
          r.restarts++;
          void this.launch(r).catch((err) => this.log.error({ err, child: r.name }, 'restart failed'));
        }, decision.delayMs);
      }
    }
  }

  private setState(r: NodeRecord, state: NodeState): void {
    if (r.state === state) return;
    r.state = state;
    if (state === 'running') { r.attempt = 0; r.error = undefined; }
    if (state !== 'running' && state !== 'held') { r.misplacedSince = undefined; r.misplacedChecks = 0; }
    if (this.bus) this.bus.send(Message.newSignal(SUPERVISOR_PATH, SUPERVISOR_INTERFACE, 'NodeStateChanged', 'ss', [r.name, state]));
    this.o.onStateChange?.();
  }

  /** Moves every live node to where it should be attached now: planned in reparent.ts, applied here. */
  private converge(): void {
    if (this.shuttingDown) return;
    let steps: ConvergeStep[];
    try { steps = planConvergence(this.tree, viewsOf(this.nodes.values())); } catch (err) { this.log.error({ err }, 'tree inconsistent'); return; }
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
      await this.setParent(r.name, to);
      r.currentParent = to;
      r.moveFailures = 0;
      this.log.info({ child: r.name, from, to, ms: Math.round((performance.now() - t0) * 10) / 10 }, 'node re-parented');
    } catch (err) {
      // Try again, but not at once: a SetParent that fails at once would otherwise loop as fast as the bus answers.
      r.moveFailures++;
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

  private setParent(node: string, parent: string) {
    // '' as the token: a node in vouch mode takes SetParent from the supervisor's connection only and ignores it.
    return this.callNode(node, NODE_INTERFACE, 'SetParent', 'ss', [nodeBusName(this.instance, parent), ''], 5000);
  }

  /** A node's own credential: its HIVE_TOKEN, the same across its restarts (credentials.ts). */
  private credentialOf(node: string): string {
    return nodeCredential(this.o.secret, node);
  }

  /**
   * Supervisor1.Vouch: true iff `credential` is the credential of node `name` of this hive. A
   * refusal asked by an ancestor of a remote node means that node holds a stale credential (the
   * only way one is found out).
   */
  private vouch(name: string, credential: string, caller: string | undefined): boolean {
    const r = this.nodes.get(name);
    const ok = r !== undefined && credentialMatches(this.o.secret, name, credential);
    if (!ok && r?.spec?.remote && caller) this.remotes.refusedBy(r, caller);
    return ok;
  }

  private callNode(node: string, iface: string, member: string, signature: string, body: unknown[], timeoutMs: number) {
    return callWithDeadline(this.bus!, { destination: nodeBusName(this.instance, node), path: NODE_PATH, interface: iface, member, signature, body }, timeoutMs);
  }

  // ---- control (Supervisor1's methods) -----------------------------------------------------

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
    if (launched) await this.terminate(r, launched);
    this.setState(r, 'stopped');
    this.converge();
  }

  /**
   * SIGTERM, SIGKILL after STOP_GRACE_MS, and at most KILL_WAIT_MS more: bounded even for a
   * process that never started or cannot die (D state), which is then logged and left.
   */
  private async terminate(r: NodeRecord, launched: Launched): Promise<void> {
    const gone = await stopWithDeadline({
      gone: launched.exited, ask: () => this.askToStop(r, launched), force: () => launched.proc.kill('SIGKILL'), graceMs: STOP_GRACE_MS, forceWaitMs: KILL_WAIT_MS,
    });
    if (!gone) {
      this.log.error({ child: r.name, pid: launched.pid }, `node did not exit within ${STOP_GRACE_MS + KILL_WAIT_MS} ms of SIGTERM and SIGKILL; giving up on it`);
      if (r.launched === launched) r.launched = undefined;
    }
  }

  /** SIGTERM to the node itself: inside a sandbox that is bwrap's last descendant, not bwrap. */
  private askToStop(r: NodeRecord, launched: Launched): void {
    const inner = r.trust === 'sandboxed' ? sandboxedProcess(launched.pid) : undefined;
    if (inner === undefined) { launched.proc.kill('SIGTERM'); return; }
    try { process.kill(inner, 'SIGTERM'); } catch { launched.proc.kill('SIGTERM'); }
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

  /** Supervisor1.Load: a spec checked as the config file's entries are (load-spec.ts), then started. */
  async load(text: string): Promise<string> {
    try {
      return await this.loadChecked(text);
    } catch (err) {
      if (err instanceof HiveError && err.code === 'InvalidArgs') this.log.warn({ problems: err.message.slice(0, 2000) }, 'Load refused');
      throw err;
    }
  }

  private async loadChecked(text: string): Promise<string> {
    // A relative dir: or a package: of a raw Load is the config's, as in hive.yaml (hive load sends absolute folders).
    const spec = await parseLoadSpecChecked(text, [...this.nodes.keys()], this.o.configDir);
    // Checked in a process of its own: the tree may have changed meanwhile (another Load of the same name, its parent unloaded).
    if (this.nodes.has(spec.name)) throw new HiveError('InvalidArgs', `\`name\`: '${spec.name}' is already a node`);
    if (!this.nodes.has(spec.parent)) throw new HiveError('InvalidArgs', `\`parent\`: '${spec.parent}' is not a node; expected one of: ${[...this.nodes.keys()].join(', ')}`);
    if (this.shuttingDown) throw new HiveError('Failed', 'the hive is shutting down');
    if (this.o.config.bus === 'session' && spec.sandbox !== undefined && spec.sandbox !== false) throw new HiveError('InvalidArgs', `sandbox: ${SANDBOX_ON_SESSION_BUS}`);
    const rec = this.addRecord(spec.name, spec);
    this.log.info({ child: spec.name, parent: spec.parent, trust: rec.trust }, 'node loaded');
    if (spec.remote) await this.remotes.open(rec);
    else await this.launch(rec);
    return spec.name;
  }

  async unload(name: string): Promise<void> {
    const r = this.record(name);
    if (!r.spec) throw new HiveError('Failed', 'the mouth cannot be unloaded');
    if (!r.spec.remote) await this.stopNode(name);
    else await this.remotes.close(r);
    const parent = r.spec.parent;
    for (const [child, t] of this.tree) {
      if (t.parent === name) {
        this.tree.set(child, { ...t, parent });
        const c = this.nodes.get(child)!;
        if (c.spec) c.spec = { ...c.spec, parent };
      }
    }
    this.log.info({ child: name }, 'node unloaded');
    this.tree.delete(name);
    this.nodes.delete(name);
    this.logs.forget(name);
    this.converge();
  }

  private reloading = false;
  private reloadsRefused = 0;
  /** The mouth's last Configure failed: the next reload asks it again, even with no network changed in the file. */
  private networksBehind = false;

  /**
   * Supervisor1.Reload and SIGHUP: reads the config file (the one given, else the one the hive
   * runs), checks it fully, plans (reload-plan.ts) and, unless dryRun, applies the plan. A bad
   * config, or a change that cannot be made live, changes nothing (InvalidArgs naming the keys).
   */
  async reload(o: { file?: string; dryRun?: boolean } = {}): Promise<ReloadResult> {
    if (!this.ready) throw new HiveError('Failed', 'the hive is still starting; reload once it is up');
    if (this.shuttingDown) throw new HiveError('Failed', 'the hive is shutting down');
    const file = o.file ? resolve(o.file) : this.o.configFile;
    if (!file) throw new HiveError('Failed', 'this hive runs the embedded default (hive up without --config): there is no config file to reload; give one with --config');
    if (this.reloading) throw new HiveError('Failed', 'a reload is under way; try again when it is done');
    this.reloading = true;
    // Read by the supervisor: a config file from now on, hidden from sandboxed nodes (started later) as the first one is.
    this.configFiles.add(file);
    try {
      let next: HiveConfig;
      try { next = (await readHiveConfigChecked(file)).config; } catch (err) {
        if (err instanceof ConfigError) {
          // A dry run is a question, not a refused reload (as for refused keys below).
          if (!o.dryRun) this.reloadsRefused++;
          this.log.warn({ file, problems: err.message.slice(0, 2000) }, 'reload refused: the config has problems; nothing changed');
          throw new HiveError('InvalidArgs', err.message);
        }
        throw err;
      }
      if (this.shuttingDown) throw new HiveError('Failed', 'the hive is shutting down');
      // By the record, not by the old file: a node whose unload failed last time is still the file's, and goes now.
      const running = new Map<string, RunningPlugin>();
      for (const r of this.nodes.values()) if (r.spec) running.set(r.name, { spec: r.spec, fromFile: r.fromFile });
      const plan = planReload({ running, tree: this.tree, old: this.o.config, next });
      if (plan.refused.length) {
        if (!o.dryRun) this.reloadsRefused++;
        const text = `invalid config ${file} for a running hive:\n${plan.refused.map((r) => `\`${r.key}\`: ${r.message}`).join('\n')}`;
        this.log.warn({ file, refused: plan.refused }, 'reload refused; nothing changed');
        if (o.dryRun) return { file, plan, applied: false, errors: [] };
        throw new HiveError('InvalidArgs', text);
      }
      if (o.dryRun) return { file, plan, applied: false, errors: [] };
      this.o.onReload?.('start');
      try {
        const { errors, networks } = await this.applyReload(plan, next, file);
        this.log.info({ file, steps: plan.steps.length, errors, networks }, errors.length ? 'reloaded, with errors' : 'reloaded');
        return { file, plan, applied: true, errors, ...(networks && { networks }) };
      } finally {
        this.o.onReload?.('end');
      }
    } finally {
      this.reloading = false;
    }
  }

  /** Applies a checked plan; what fails on the way is said, and the rest still done. */
  private async applyReload(plan: ReloadPlan, next: HiveConfig, file: string): Promise<{ errors: string[]; networks?: { network: string; did: string }[] }> {
    const errors: string[] = [];
    let networks: { network: string; did: string }[] | undefined;
    const oldNetworks = this.o.config.networks;
    // From now on the hive's config is the new one: a node (the mouth too) started later gets it.
    this.o.config = next;
    this.o.configFile = file;
    this.o.configDir = dirname(file);
    const specs = new Map(next.plugins.map((p) => [p.name, p]));
    const nodeSteps = (kind: 'load' | 'unload' | 'restart') => plan.steps.flatMap((s) => (s.do === kind ? [s.node] : []));
    // 1. New records first (their tree entries with them), so that a node moved under a new one finds it.
    const loads = nodeSteps('load').map((n) => this.addRecord(n, specs.get(n)!, true));
    // 2. Every node from the file where the file puts it, with its new spec.
    for (const spec of next.plugins) {
      const r = this.nodes.get(spec.name);
      if (!r || loads.includes(r)) continue;
      const policyChanged = JSON.stringify(r.spec?.restart) !== JSON.stringify(spec.restart);
      r.spec = spec;
      r.fromFile = true;
      r.run = runModeOf(spec);
      r.trust = trustOf(spec);
      if (policyChanged) r.intensity = createRestartIntensity({ max: spec.restart.max, withinMs: spec.restart.within });
      this.tree.set(spec.name, { parent: spec.parent, onDeath: spec.on_death });
    }
    // 3. Gone from the file: unloaded, leaves first, each depth side by side (stopWaves) so that
    // many unloads take a few stop graces, not one each.
    const unloads = new Set(nodeSteps('unload'));
    for (const wave of stopWaves(this.tree).map((w) => w.filter((n) => unloads.has(n))).filter((w) => w.length > 0)) {
      if (this.shuttingDown) break;
      await Promise.all(wave.map((n) => this.unload(n).catch((err: Error) => { errors.push(`unload ${n}: ${err.message}`); })));
    }
    // 4. New nodes started, parents first (the plan's order).
    for (const r of loads) {
      if (this.shuttingDown) break;
      try {
        this.log.info({ child: r.name, parent: r.spec!.parent, trust: r.trust }, 'node loaded');
        if (r.spec!.remote) await this.remotes.open(r);
        else await this.launch(r);
      } catch (err) { errors.push(`load ${r.name}: ${(err as Error).message}`); }
    }
    // 5. Moves (SetParent, no restart), then the restarts, side by side; a node the operator stopped stays stopped.
    this.converge();
    await Promise.all(nodeSteps('restart').map(async (n) => {
      const r = this.nodes.get(n)!;
      try {
        if (this.shuttingDown) return;
        if (r.state === 'stopped') return;
        if (r.state === 'failed') await this.startNode(n);
        else await this.restartNode(n);
      } catch (err) { errors.push(`restart ${n}: ${(err as Error).message}`); }
    }));
    // 6. The networks: the mouth applies its part (mouth/live-config.ts); a mouth that is down starts with the new ones.
    // Asked again at the next reload after a failed Configure, planned network steps or not: the
    // mouth compares against what it runs, so a change it could not make then (a network whose
    // ca_file was missing) is made now.
    if (!this.shuttingDown && (plan.steps.some((s) => s.do === 'network') || this.networksBehind)) {
      const mouth = this.nodes.get(ROOT)!;
      if (mouth.state !== 'running') { if (plan.steps.some((s) => s.do === 'network')) this.log.info('the mouth is not running: it starts with the new networks'); }
      else {
        try {
          const reply = await callWithDeadline(this.bus!, { destination: nodeBusName(this.instance, ROOT), path: MOUTH_PATH, interface: MOUTH1.name, member: 'Configure', signature: 's', body: [JSON.stringify(next.networks)] }, CONFIGURE_MS);
          this.networksBehind = false;
          try { networks = JSON.parse(String(reply.body[0])) as { network: string; did: string }[]; } catch { /* said nothing readable: the plan stands */ }
        } catch (err) {
          this.networksBehind = true;
          errors.push(`networks: ${(err as Error).message}`);
          this.log.error({ err, before: Object.keys(oldNetworks), after: Object.keys(next.networks) }, 'the mouth did not take the new networks; it has them at its next start');
        }
      }
    }
    if (this.shuttingDown) errors.push('the hive began to shut down during the reload: the rest of it was not applied');
    return { errors, ...(networks && { networks }) };
  }

  /** One line for systemd's STATUS= and the log: how many nodes run, and what is not well. */
  statusLine(): string {
    const states = [...this.nodes.values()].map((r) => r.state);
    const count = (s: NodeState) => states.filter((x) => x === s).length;
    const bad = (['failed', 'restarting', 'held', 'stopped'] as const).filter((s) => count(s) > 0).map((s) => `${count(s)} ${s}`);
    return `${count('running')}/${states.length} nodes running${bad.length ? `, ${bad.join(', ')}` : ''}`;
  }

  treeView() {
    return treeView({
      nodes: this.nodes, tree: this.tree, instance: this.instance,
      childrenEntries: (n) => this.childrenEntries(n),
      properties: async (n) => (await this.callNode(n, 'org.freedesktop.DBus.Properties', 'GetAll', 's', [NODE_INTERFACE], 1000)).body[0] as Record<string, { value: unknown }>,
    });
  }

  // ---- shutdown --------------------------------------------------------------------------

  /** Stops the leaves first, then their parents, the mouth last (reparent.ts: stopWaves). */
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
    await Promise.all([...this.nodes.values()].map((r) => r.proxy?.stop().catch(() => undefined)));
    // The nodes' socket folders (<runtime>/<instance>.nodes/<node>/): nothing of this hive is left behind.
    await rm(dirname(nodeSocketDir(this.o.runtimeDir, this.instance, 'x')), { recursive: true, force: true }).catch((err: unknown) => this.log.warn({ err }, 'could not remove the nodes\' socket folders'));
    this.log.info('all nodes stopped');
    try { this.bus?.disconnect(); } catch { /* already gone */ }
  }

  /** The second signal: no more waiting. */
  forceKill(): void {
    this.shuttingDown = true;
    for (const r of this.nodes.values()) r.launched?.proc.kill('SIGKILL');
  }
}
