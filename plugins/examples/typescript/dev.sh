#!/usr/bin/env bash
# The commands of docs/writing-plugins.md "Run it against a hive", run by the test suite
# (test/examples/typescript.test.ts) against a running `hive up --config plugins/examples/typescript/hive.yaml`.
set -euo pipefail
cd "$(dirname "$0")/../../.."
hive() { node bin/hive "$@"; }

# --8<-- [start:reload]
# After changing and compiling dice.ts: replace the running plugin without restarting the hive.
hive unload dice --instance dev
hive load --instance dev --name dice --exec "node $PWD/dist/plugins/run.js $PWD/dist/plugins/examples/typescript/dice.js" --plugin-config '{"max_dice": 5}'
# --8<-- [end:reload]

# --8<-- [start:tree]
hive tree --instance dev
# --8<-- [end:tree]
