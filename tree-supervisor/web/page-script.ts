/**
 * The page's script, run in the browser: written here so that tsc checks it, and put into the page
 * as its source text (page.ts), so there is no front-end build. It must stay one self-contained
 * function (no imports, no outside names). It builds everything with createElement and
 * textContent, never markup from data: a node's name, a log line or an IRC line cannot inject.
 *
 * The token: taken from the address's fragment (`#token=`, which the browser sends nowhere; an old
 * `?token=` too), kept in sessionStorage (this tab and this origin, port included: no other server
 * on 127.0.0.1 gets it, as it would a cookie) and taken out of the address bar at once. Every
 * request carries it as `Authorization: Bearer`; the live updates are read with fetch's stream
 * (an EventSource cannot send a header).
 */
export function pageScript(): void {
  interface Node {
    name: string; kind: string; state: string; pid: number | null; parent: string | null; restarts: number;
    uptime_ms: number; misplaced?: boolean; error?: string | null; counters: Record<string, number>; remote?: boolean;
  }
  interface Tree { instance: string; nodes: Node[]; skipped?: number }
  interface Msg { time: number; direction: string; from: string; to: string; route?: string; lines: string[]; meta: Record<string, string> }

  const SVG = 'http://www.w3.org/2000/svg';
  const W = 150, H = 72, GAP_X = 12, GAP_Y = 40;
  let tree: Tree = { instance: '', nodes: [] };
  let selected: string | null = null;
  const messages: Msg[] = [];
  const $ = (id: string) => document.getElementById(id)!;

  const KEY = 'hive-web-token';
  const fromAddress = (): string | null => new URLSearchParams(location.hash.slice(1)).get('token') ?? new URLSearchParams(location.search).get('token');
  const given = fromAddress();
  if (given) sessionStorage.setItem(KEY, given);
  if (location.hash || location.search) history.replaceState(null, '', '/');
  const token = sessionStorage.getItem(KEY);
  // The printed address opened again in this tab only changes the fragment: no new page load.
  window.addEventListener('hashchange', () => {
    const again = fromAddress();
    history.replaceState(null, '', '/');
    if (!again || again === token) return;
    // Another token (a new `hive web`): start over with it.
    sessionStorage.setItem(KEY, again);
    location.reload();
  });
  const auth = { Authorization: `Bearer ${token ?? ''}` };

  const el = <K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svg = (tag: string, attrs: Record<string, string | number>): SVGElement => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    return e;
  };
  const uptime = (ms: number): string => {
    if (!ms) return '-';
    const s = Math.floor(ms / 1000);
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
    return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  };
  // Red for what is down against its will; grey for what the operator stopped.
  const stateClass = (n: Node): string => (n.misplaced ? 'misplaced' : n.state);

  // Redrawn only when the shape changes (a node came, went or moved); otherwise each node's box is
  // updated where it is, so a click or the keyboard focus is not lost to the update every second.
  let shape = '';
  const boxes = new Map<string, { g: SVGElement; lines: SVGElement[]; title: SVGElement }>();

  function drawTree(): void {
    const nowShape = tree.nodes.map((n) => `${n.name}<${n.parent ?? ''}`).join(',');
    if (nowShape !== shape) { shape = nowShape; layout(); }
    for (const n of tree.nodes) {
      const b = boxes.get(n.name);
      if (!b) continue;
      b.g.setAttribute('class', `node ${stateClass(n)}${n.name === selected ? ' selected' : ''}`);
      b.g.setAttribute('data-state', n.state);
      const c = n.counters;
      const texts = [
        n.name,
        `${n.misplaced ? 'misplaced' : n.state} · ${n.remote ? 'remote' : `pid ${n.pid ?? '-'}`}`,
        `↻ ${n.restarts} · up ${uptime(n.uptime_ms)}`,
        `in ${c.in ?? '-'} out ${c.out ?? '-'}${c.dropped ? ` drop ${c.dropped}` : ''}${c.errors ? ` err ${c.errors}` : ''}${c.lost ? ` lost ${c.lost}` : ''}`,
      ];
      texts.forEach((t, i) => {
        const line = b.lines[i]! as SVGTextElement;
        if (line.textContent === t) return;
        line.textContent = t;
        // A line too long for its box is squeezed into it rather than drawn over the next box.
        line.removeAttribute('textLength');
        if (line.getComputedTextLength() > W - 16) { line.setAttribute('textLength', String(W - 16)); line.setAttribute('lengthAdjust', 'spacingAndGlyphs'); }
      });
      b.title.textContent = `${n.name} (${n.kind})${n.error ? `: ${n.error}` : ''}`;
    }
  }

  function layout(): void {
    const root = $('tree') as unknown as SVGSVGElement;
    root.replaceChildren();
    boxes.clear();
    const kids = new Map<string | null, Node[]>();
    for (const n of tree.nodes) {
      const p = n.name === 'mouth' ? null : n.parent;
      if (!kids.has(p)) kids.set(p, []);
      kids.get(p)!.push(n);
    }
    const pos = new Map<string, { x: number; y: number }>();
    let slot = 0;
    let depthMax = 0;
    const seen = new Set<string>();
    const place = (n: Node, depth: number): number => {
      seen.add(n.name);
      depthMax = Math.max(depthMax, depth);
      const children = (kids.get(n.name) ?? []).filter((c) => !seen.has(c.name));
      let x: number;
      if (children.length === 0) x = slot++;
      else {
        const xs = children.map((c) => place(c, depth + 1));
        x = (xs[0]! + xs[xs.length - 1]!) / 2;
      }
      pos.set(n.name, { x, y: depth });
      return x;
    };
    for (const n of kids.get(null) ?? []) place(n, 0);
    // Not under any node shown (a parent that is gone): a row of their own at the bottom.
    const loose = tree.nodes.filter((n) => !seen.has(n.name));
    for (const n of loose) pos.set(n.name, { x: slot++, y: depthMax + 1 });
    const rows = depthMax + (loose.length ? 2 : 1);
    const width = Math.max(1, slot) * (W + GAP_X) + GAP_X;
    root.setAttribute('viewBox', `0 0 ${width} ${rows * (H + GAP_Y) + GAP_Y / 2}`);
    // A small tree is drawn at about its own size, not blown up to the panel's width.
    root.style.maxWidth = `${Math.round(width * 1.3)}px`;
    const at = (name: string) => { const p = pos.get(name)!; return { x: GAP_X + p.x * (W + GAP_X), y: GAP_Y / 2 + p.y * (H + GAP_Y) }; };
    for (const n of tree.nodes) {
      if (!n.parent || n.name === 'mouth' || !pos.has(n.parent) || loose.includes(n)) continue;
      const a = at(n.parent), b = at(n.name);
      root.append(svg('path', { class: 'edge', d: `M${a.x + W / 2},${a.y + H} C${a.x + W / 2},${a.y + H + GAP_Y / 2} ${b.x + W / 2},${b.y - GAP_Y / 2} ${b.x + W / 2},${b.y}` }));
    }
    for (const n of tree.nodes) {
      const { x, y } = at(n.name);
      const g = svg('g', { transform: `translate(${x},${y})`, 'data-node': n.name, tabindex: 0, role: 'button' });
      g.append(svg('rect', { width: W, height: H, rx: 8 }));
      const lines = [[19, 'name'], [36, 'info'], [51, 'info'], [66, 'info']].map(([dy, cls]) => svg('text', { x: 10, y: dy!, class: String(cls) }));
      const title = svg('title', {});
      g.append(...lines, title);
      g.addEventListener('click', () => select(n.name));
      g.addEventListener('keydown', (e) => { if ((e as KeyboardEvent).key === 'Enter') select(n.name); });
      root.append(g);
      boxes.set(n.name, { g, lines, title });
    }
  }

  function drawDetails(): void {
    const box = $('details');
    box.replaceChildren();
    const n = tree.nodes.find((x) => x.name === selected);
    $('actions').hidden = !n;
    if (!n) { box.append(el('p', 'hint', 'Click a node to see its counters, its log and its messages.')); return; }
    box.append(el('h2', '', `${n.name}`));
    const dl = el('dl');
    const row = (k: string, v: string) => { dl.append(el('dt', '', k), el('dd', '', v)); };
    row('kind', n.kind);
    row('state', n.misplaced ? `${n.state} (misplaced)` : n.state);
    row('pid', n.remote ? 'remote' : String(n.pid ?? '-'));
    row('parent', n.parent ?? '-');
    row('restarts', String(n.restarts));
    row('uptime', uptime(n.uptime_ms));
    if (n.error) row('error', n.error);
    for (const [k, v] of Object.entries(n.counters)) row(k, String(v));
    box.append(dl);
  }

  function flowsThrough(m: Msg, name: string): boolean {
    if (m.from === name || m.to === name) return true;
    const n = tree.nodes.find((x) => x.name === name);
    return m.direction === 'down' && !!n && n.parent === m.from;
  }

  function drawMessages(): void {
    const list = $('messages');
    list.replaceChildren();
    if (!selected) return;
    const shown = messages.filter((m) => flowsThrough(m, selected!)).slice(-100);
    for (const m of shown) {
      const li = el('li', m.direction);
      li.append(el('span', 'time', new Date(m.time).toISOString().slice(11, 23)), el('span', 'dir', m.direction === 'up' ? '↑' : '↓'), el('span', 'who', `${m.from} → ${m.to}`));
      const text = m.lines.length ? m.lines.join(' ⏎ ') : `(${m.meta['hive.event'] ?? 'event'})`;
      li.append(el('span', 'text', text));
      li.title = Object.entries(m.meta).map(([k, v]) => `${k}=${v}`).join('\n');
      list.append(li);
    }
    $('skipped').textContent = tree.skipped ? `${tree.skipped} messages not shown (over 200 a second)` : '';
  }

  async function loadLogs(): Promise<void> {
    const name = selected;
    if (!name) { $('logs').replaceChildren(); return; }
    try {
      const r = await fetch(`/api/nodes/${encodeURIComponent(name)}/logs?max=100`, { headers: auth, cache: 'no-store' });
      if (name !== selected) return;
      const body = await r.json() as Record<string, unknown>[] | { message: string };
      const list = $('logs');
      list.replaceChildren();
      if (!Array.isArray(body)) { list.append(el('li', 'error', body.message)); return; }
      for (const l of body) {
        const { level, time, msg, node: _n, ...rest } = l;
        const li = el('li', `level-${String(level)}`);
        li.append(el('span', 'time', typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : ''), el('span', 'msg', String(msg ?? '')));
        const extra = Object.keys(rest).length ? JSON.stringify(rest) : '';
        if (extra) li.append(el('span', 'extra', extra.length > 400 ? `${extra.slice(0, 400)}…` : extra));
        list.append(li);
      }
      list.scrollTop = list.scrollHeight;
    } catch { /* the next poll tries again */ }
  }

  function select(name: string): void {
    selected = name;
    drawTree(); drawDetails(); drawMessages(); void loadLogs();
  }

  async function act(action: string): Promise<void> {
    if (!selected) return;
    const status = $('status');
    status.textContent = `${action} ${selected}…`;
    try {
      const r = await fetch(`/api/nodes/${encodeURIComponent(selected)}/${action}`, { method: 'POST', headers: auth });
      const body = await r.json() as { message?: string };
      status.textContent = r.ok ? `${action}: ${selected}` : `${action} refused: ${body.message ?? r.status}`;
      status.className = r.ok ? 'ok' : 'error';
    } catch (e) {
      status.textContent = `${action} failed: ${String(e)}`;
      status.className = 'error';
    }
  }

  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('#actions button'))) b.addEventListener('click', () => void act(b.dataset.action!));

  let drawing = false;
  const handle = (event: string, data: string): void => {
    if (event === 'tree') {
      tree = JSON.parse(data) as Tree;
      $('instance').textContent = tree.instance;
      document.title = `hive ${tree.instance}`;
      drawTree(); drawDetails(); drawMessages();
    } else if (event === 'state') {
      const { node, state } = JSON.parse(data) as { node: string; state: string };
      const n = tree.nodes.find((x) => x.name === node);
      if (n) { n.state = state; if (state !== 'running') n.uptime_ms = 0; drawTree(); drawDetails(); }
    } else if (event === 'message') {
      messages.push(JSON.parse(data) as Msg);
      if (messages.length > 500) messages.splice(0, messages.length - 500);
      // Drawn once a frame at most, however fast they come.
      if (!drawing) { drawing = true; requestAnimationFrame(() => { drawing = false; drawMessages(); }); }
    }
  };
  const conn = (text: string, cls: string) => { $('conn').textContent = text; $('conn').className = cls; };
  const gone = () => {
    // A new `hive web` has a new token: this one is no use any more.
    sessionStorage.removeItem(KEY);
    conn('disconnected: open the address hive web printed', 'down');
  };

  /** The server-sent events, read from fetch's stream; connects again 2 s after a loss. */
  async function listen(): Promise<void> {
    for (;;) {
      try {
        const r = await fetch('/events', { headers: auth, cache: 'no-store' });
        if (r.status === 401) { gone(); return; }
        if (!r.ok || !r.body) throw new Error(String(r.status));
        conn('live', 'live');
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end: number;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
            }
            if (data.length) handle(event, data.join('\n'));
          }
        }
      } catch { /* connects again below */ }
      conn('disconnected, retrying', 'down');
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  // The log is read again 2 s after each answer, never while one is on its way: a slow supervisor
  // does not pile up requests that would take the browser's connections from the buttons.
  async function pollLogs(): Promise<void> {
    await loadLogs();
    setTimeout(() => void pollLogs(), 2000);
  }

  drawDetails();
  if (token) {
    void listen();
    setTimeout(() => void pollLogs(), 2000);
  } else {
    conn('no token: open the address hive web printed', 'down');
  }
}
