/**
 * The one page of `hive web`: markup, style and the script (page-script.ts, as its source text),
 * with the per-response nonce the Content-Security-Policy allows. No data is in the markup, not
 * even the instance's name: it is served without the token, and the script draws everything from
 * the events.
 */
import { pageScript } from './page-script.js';

const SCRIPT = `(${pageScript.toString()})();`.replace(/<\/script/gi, '<\\/script');

const STYLE = `
  :root { --bg: #f6f7f9; --fg: #1d2330; --muted: #6b7280; --line: #d6dae1; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
  header { display: flex; gap: 1em; align-items: baseline; padding: .6em 1em; background: #1d2330; color: #fff; }
  header h1 { font-size: 1.1em; margin: 0; }
  #conn { font-size: .85em; padding: .1em .5em; border-radius: 1em; background: #555; }
  #conn.live { background: #2e7d32; } #conn.down { background: #c62828; }
  main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(320px, 2fr); gap: 1em; padding: 1em; align-items: start; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .6em .8em; min-width: 0; }
  h2 { font-size: 1em; margin: .2em 0 .5em; }
  #tree { width: 100%; height: auto; min-height: 240px; }
  .edge { fill: none; stroke: #9aa3b2; stroke-width: 1.5; }
  .node { cursor: pointer; }
  .node rect { stroke: #0003; stroke-width: 1; }
  .node.running rect { fill: #c8e6c9; } .node.starting rect, .node.held rect { fill: #fff3c4; }
  .node.restarting rect, .node.failed rect { fill: #ef5350; } .node.stopped rect { fill: #e0e0e0; }
  .node.misplaced rect { fill: #ffcc80; }
  .node.selected rect { stroke: #1d2330; stroke-width: 3; }
  .node text { font-size: 12px; fill: #1d2330; } .node text.name { font-size: 14px; font-weight: 600; }
  .node.restarting text, .node.failed text { fill: #fff; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .1em 1em; margin: 0; }
  dt { color: var(--muted); } dd { margin: 0; font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
  #actions { display: flex; gap: .5em; margin: .6em 0; flex-wrap: wrap; } #actions[hidden] { display: none; }
  #actions button { padding: .3em .9em; border-radius: 6px; border: 1px solid var(--line); background: #fff; cursor: pointer; }
  #status.error { color: #c62828; } #status.ok { color: #2e7d32; }
  ul { list-style: none; margin: 0; padding: 0; max-height: 260px; overflow: auto; font: 12px/1.5 ui-monospace, monospace; }
  li { white-space: pre-wrap; overflow-wrap: anywhere; border-bottom: 1px solid #f0f1f3; }
  li span { margin-right: .6em; } .time { color: var(--muted); } .who { color: #3949ab; } .extra { color: var(--muted); }
  li.up .dir { color: #2e7d32; } li.down .dir { color: #3949ab; }
  .level-40 .msg { color: #b26a00; } .level-50 .msg, .level-60 .msg { color: #c62828; }
  .hint { color: var(--muted); }
`;

export function pageHtml(o: { nonce: string }): string {
  const attr = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hive</title>
<style nonce="${attr(o.nonce)}">${STYLE}</style>
</head>
<body>
<header><h1>hive <span id="instance"></span></h1><span id="conn">connecting</span></header>
<main>
  <section><h2>Tree</h2><svg id="tree" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="the tree of nodes"></svg></section>
  <section>
    <div id="details"></div>
    <div id="actions" hidden>
      <button data-action="stop">stop</button><button data-action="start">start</button>
      <button data-action="restart">restart</button><button data-action="unload">unload</button>
      <span id="status"></span>
    </div>
    <h2>Log</h2><ul id="logs"></ul>
    <h2>Messages <small id="skipped" class="hint"></small></h2><ul id="messages"></ul>
  </section>
</main>
<script nonce="${attr(o.nonce)}">${SCRIPT}</script>
</body>
</html>
`;
}
