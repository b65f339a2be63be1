/** `hive web --help`: apart from cli-web.ts so that cli.ts can show it without loading the web view. */
export const WEB_HELP = `usage: hive web [--listen HOST:PORT | unix:PATH] [--json] [--config FILE | --instance NAME]

Serves a live view of the tree in a browser: the nodes drawn as a tree (state, pid, restarts,
uptime, counters), each node's log lines and the messages flowing through it, and buttons to
stop, start, restart or unload it. Prints the address to open; it carries a token made at this
start (like Jupyter's): anyone with it is the operator of this hive until \`hive web\` ends.
Also serves /metrics for Prometheus (the token as ?token= or Authorization: Bearer). Runs until
Ctrl-C, or until the hive ends (exit 1). Loopback only; see docs/web.md for SSH forwarding.

      --listen ADDR     127.0.0.1:PORT, [::1]:PORT or PORT (default: 127.0.0.1 and a free port),
                        or unix:PATH (a new socket, mode 0600)
      --json            print {"url","token","port"|"socket"} on one line instead of the address
  -c, --config FILE     find the hive by its config file (its instance)
  -i, --instance NAME   find the hive by instance name (default: default)
`;
