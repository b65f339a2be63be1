#!/usr/bin/env bash
# @@NAME@@.sh — a Hive responder in bash with gdbus (Debian: libglib2.0-bin) and coreutils, made by
# `hive new`. `!@@COMMAND@@ world` answers `hello, world`; `!@@COMMAND@@` alone `hello, <you>`
# (the word is the `greeting` of its config). Your part is `answer` below; the rest is how a node
# without a D-Bus connection of its own takes part (docs/writing-plugins.md, "A first plugin in
# shell", explains every piece; docs/protocol.md#a-node-without-a-connection is the protocol).
#
# `hive dev .` runs it in a development hive; `python3 -m unittest` runs its test.
# Exit codes: 0 stopped (SIGTERM, SIGINT), 1 the bus connection lost, 2 bad environment.

set -u
export LC_ALL=C # bytes, not characters: ${#s} is a length in bytes, ${s:i:1} one byte
readonly MAIN_PID=$$ NODE_PATH=/org/hive/Node

# log LEVEL MESSAGE [KEY VALUE]... — one JSON line on stderr, in the shape pino writes, which the
# supervisor shows with the node's name (levels: 20 debug, 30 info, 40 warn, 50 error, 60 fatal).
json() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "${s//[$'\x01'-$'\x1f']/ }"; }
log() {
  local level=$1 msg=$2 line
  shift 2
  (( level >= LOG_MIN )) || return 0
  line="{\"level\":$level,\"time\":$(( ${EPOCHREALTIME/./} / 1000 ))"
  while (( $# >= 2 )); do line+=",\"$1\":$(json "$2")"; shift 2; done
  printf '%s,"msg":%s}\n' "$line" "$(json "$msg")" >&2
}
case ${HIVE_LOG_LEVEL:-info} in
  trace | debug) LOG_MIN=20 ;; warn) LOG_MIN=40 ;; error) LOG_MIN=50 ;; fatal) LOG_MIN=60 ;; silent) LOG_MIN=99 ;; *) LOG_MIN=30 ;;
esac

bad_env() { printf '@@NAME@@.sh: bad environment:\n%s\n' "$1" >&2; exit 2; }
BUS=${HIVE_BUS_ADDRESS:-${DBUS_SESSION_BUS_ADDRESS:-}}
NODE=${HIVE_NODE:-}
TOKEN=${HIVE_TOKEN:-}
INSTANCE=${HIVE_INSTANCE:-default}
VOUCH=${HIVE_VOUCH:-}
PREFIX=${HIVE_COMMAND_PREFIX-!} # may be empty: then only `nick: @@COMMAND@@` and private messages
[[ -n $BUS ]] || bad_env 'HIVE_BUS_ADDRESS: no bus address (nor DBUS_SESSION_BUS_ADDRESS)'
[[ $NODE =~ ^[A-Za-z][A-Za-z0-9_]{0,63}$ ]] || bad_env "HIVE_NODE: '$NODE': expected letters, digits and _, starting with a letter"
[[ -n $TOKEN ]] || bad_env "HIVE_TOKEN: this node's credential is required"
[[ $INSTANCE =~ ^[A-Za-z][A-Za-z0-9_]{0,63}$ ]] || bad_env "HIVE_INSTANCE: '$INSTANCE': expected letters, digits and _, starting with a letter"
[[ -z $VOUCH || $VOUCH == [01] ]] || bad_env 'HIVE_VOUCH: expected 1 (the supervisor vouches for credentials) or 0'
[[ -n ${HIVE_PARENT:-} ]] || bad_env 'HIVE_PARENT: a node without a connection needs a parent to join'
command -v gdbus >/dev/null || bad_env 'gdbus: not installed (Debian: apt-get install libglib2.0-bin)'
RUN="$MAIN_PID-$EPOCHSECONDS" # this run of the node: a Join with another run is a restart
# What Join tells the parent about this node: `hive tree` and `help` read it from there.
INFO="{'run': <'$RUN'>, 'kind': <'responder'>, 'commands': <[('@@COMMAND@@', '@@COMMAND@@ [NAME] — says hello to NAME, or to you')]>}"
# The plugin's config (HIVE_CONFIG, JSON; hive-plugin.yaml's schema checked it): its greeting.
GREETING=hello
if [[ ${HIVE_CONFIG:-} =~ \"greeting\":\"(([^\"\\]|\\.)*)\" ]]; then
  GREETING=${BASH_REMATCH[1]//\\\"/\"}
fi

# gdbus reads and prints values in GVariant's text format. Strings are quoted with ' (or " when
# they hold a '), with \ escapes; byte arrays, which IRC lines are, print as [byte 0x3a, 0x62, …].

gv_str() { # TEXT → TEXT as a GVariant string literal
  local s=${1//\\/\\\\}
  printf "'%s'" "${s//\'/\\\'}"
}

gv_bytes() { # TEXT → its bytes as a GVariant byte array (not b'…', which adds a NUL byte)
  local s=$1 i h out=
  for (( i = 0; i < ${#s}; i++ )); do printf -v h '0x%02x' "'${s:i:1}"; out+="${out:+, }$h"; done
  printf '[byte %s]' "$out"
}

# gv_cut TEXT — cuts the string literals out of a printed value: STRS[n] is the n-th string,
# decoded, and SKEL is TEXT with that literal replaced by #n#. Looking for a key in SKEL cannot
# be fooled by text inside a value (an IRCv3 tag a user sent, say), which is never in SKEL.
gv_cut() {
  local rest=$1 lit
  local re="^([^'\"]*)('([^'\\\\]|\\\\.)*'|\"([^\"\\\\]|\\\\.)*\")"
  STRS=() SKEL=
  while [[ $rest =~ $re ]]; do
    SKEL+="${BASH_REMATCH[1]}#${#STRS[@]}#"
    rest=${rest:${#BASH_REMATCH[0]}}
    lit=${BASH_REMATCH[2]:1:-1}
    lit=${lit//\\\'/\'}; lit=${lit//\\\"/\"} # \' and \" are GVariant's; printf %b does the rest
    printf -v lit '%b' "$lit"
    STRS+=("$lit")
  done
  SKEL+=$rest
}

meta() { # KEY → the string value of metadata KEY (after gv_cut of the message) in VALUE
  local i re
  for i in "${!STRS[@]}"; do
    re="#$i#: <#([0-9]+)#>" # 'hive.id': <'mouth-1a2b-7'> is #4#: <#5#> in SKEL
    if [[ ${STRS[i]} == "$1" && $SKEL =~ $re ]]; then VALUE=${STRS[BASH_REMATCH[1]]}; return 0; fi
  done
  return 1
}

meta_true() { # KEY → whether metadata KEY is the boolean true
  local i
  for i in "${!STRS[@]}"; do [[ ${STRS[i]} == "$1" && $SKEL == *"#$i#: <true>"* ]] && return 0; done
  return 1
}

PARENT=${HIVE_PARENT} # the bus name of the parent followed, e.g. org.hive.default.mouth
PARENT_UNIQUE=        # the connection that owns it now, once seen (:1.7)
KEY=                  # what Join gave: SendAs, Renew and Leave carry it instead of the token
LEASE=30 RENEW_AT=0   # seconds; when to renew (in bash's $SECONDS)
APPROVED=             # the parent connection last joined: named by the supervisor (the first), or approved
NAMED=1               # HIVE_PARENT's first owner is the one the supervisor named: no question asked
REFUSAL_LOG_AT=0      # refusals are logged at most every 12 s: a squatter may flap its name

# check_parent UNIQUE — with HIVE_VOUCH=1, whether to join UNIQUE, a parent the supervisor did not
# name: only if Supervisor1.CheckParent(this node, UNIQUE) says true within 3 s. Else no Join at
# all, so a squatter on the parent's name (or a parent sending us elsewhere) learns nothing.
check_parent() {
  local out
  [[ $VOUCH == 1 && $1 != "$APPROVED" ]] || return 0
  out=$(gdbus call --address "$BUS" --dest "org.hive.$INSTANCE.Supervisor" --object-path /org/hive/Supervisor \
    --timeout 3 --method org.hive.Supervisor1.CheckParent "$(gv_str "$NODE")" "$(gv_str "$1")" 2>&1)
  [[ $out == '(true,)' ]] && return 0
  if (( SECONDS >= REFUSAL_LOG_AT )); then
    REFUSAL_LOG_AT=$(( SECONDS + 12 ))
    log 40 'not following this parent: the supervisor did not approve it; waiting' parent "$PARENT" unique "$1" answer "$out"
  fi
  return 1
}

parent_call() { # METHOD ARG... — a call on the parent; prints the reply, or the error and fails
  gdbus call --address "$BUS" --dest "$PARENT_UNIQUE" --object-path "$NODE_PATH" --timeout 15 \
    --method "org.hive.Node1.$1" "${@:2}" 2>&1
}

# A trap (on_tick) may run between any two commands of the main loop, so join and renew use
# local variables only and set nothing but KEY, LEASE and RENEW_AT.
join() {
  local out key lease
  # The token is on gdbus's command line here (and only here): every later call carries the key.
  if ! out=$(parent_call Join "$(gv_str "$NODE")" "$(gv_str "$TOKEN")" "$INFO"); then
    log 40 'join failed' parent "$PARENT" error "$out"
    return 1
  fi
  key=${out#"('"}; key=${key%%"'"*} # ('3f0c…', uint32 30)
  lease=${out##* }; lease=${lease%)}
  if [[ -z $key || $key == *[!0-9a-f]* || $lease == *[!0-9]* ]] || (( lease < 1 )); then
    log 50 'unexpected answer to Join' answer "$out"
    return 1
  fi
  KEY=$key LEASE=$lease RENEW_AT=$(( SECONDS + (lease + 2) / 3 )) APPROVED=$PARENT_UNIQUE
  log 30 'joined parent' parent "$PARENT" unique "$PARENT_UNIQUE" lease "$lease"
}

on_tick() { # SIGUSR1 from the ticker: renew the lease when a third of it is over
  local out
  [[ -n $KEY ]] && (( SECONDS >= RENEW_AT )) || return 0
  if out=$(parent_call Renew "$(gv_str "$KEY")"); then
    RENEW_AT=$(( SECONDS + (LEASE + 2) / 3 ))
  elif [[ $out == *org.hive.Error.NotChild* ]]; then
    log 40 'the parent forgot this node; joining again' parent "$PARENT"
    KEY=
    join
  else
    log 40 'cannot renew the lease' error "$out"
  fi
}

MON= MON_PID= TICKER_PID=

follow() { # BUS_NAME — listen to that parent, and join it once it is on the bus (see the main loop)
  stop_listening
  PARENT=$1 PARENT_UNIQUE= KEY=
  # gdbus monitor subscribes to the parent's signals first, then prints who owns its name: joining
  # after that line, no message is missed. It shows only signals from the current owner.
  exec {MON}< <(exec gdbus monitor --address "$BUS" --dest "$PARENT" --object-path "$NODE_PATH")
  MON_PID=$!
  # The ticker: wakes the main loop every 2 seconds, and once the main process is gone (even by
  # kill -9, when no trap runs) stops the monitor, so that nothing of this node stays on the bus.
  ( exec {MON}<&-
    while kill -USR1 "$MAIN_PID"; do sleep 2; done
    kill "$MON_PID" ) >/dev/null 2>&1 & # not our stderr: a last sleep would hold the log open
  TICKER_PID=$!
}

stop_listening() {
  [[ -n $TICKER_PID ]] && kill "$TICKER_PID" 2>/dev/null
  [[ -n $MON_PID ]] && { kill "$MON_PID" 2>/dev/null; exec {MON}<&-; }
  TICKER_PID= MON_PID=
}

move_to() { # BUS_NAME — Reparent, MoveChild: follow another parent
  [[ $1 == "$PARENT" ]] && return
  log 30 'moving to a new parent' from "$PARENT" to "$1"
  NAMED=0 # the target comes from the parent, not the supervisor: its owner is checked (check_parent)
  # No Leave: the new parent takes this node's bus name over from the old one when we join it.
  # Leaving first would let the name go for a moment, and the supervisor would take us for dead.
  follow "$1"
}

stop() { # SIGTERM, SIGINT: leave the parent (it lets our bus name go) and end
  trap '' USR1 # a last tick must not end the shell (SIGUSR1's default) before it has left
  stop_listening
  [[ -n $KEY ]] && parent_call Leave "$(gv_str "$KEY")" >/dev/null
  log 30 'node stopped'
  exit 0
}

# answer NICK ARGS — YOUR PART: sets ANSWER to what the bot says when NICK types `!@@COMMAND@@ ARGS`
# (ARGS trimmed, maybe empty); return 1 to say nothing. Several lines: separate them with \n.
answer() {
  ANSWER="$GREETING, ${2:-$1}"
}

COUNT=0
# A Message signal, as gdbus prints it after `org.hive.Node1.Message `: its route, then the message:
#   ('PRIVMSG.command.@@COMMAND@@', ([[byte 0x3a, 0x62, …], [0x…]], {'hive.id': <'mouth-1a2b-7'>, …}))
# The route says what the message is (docs/protocol.md#routes): `PRIVMSG.command.@@COMMAND@@` is a
# command @@COMMAND@@ to the bot; other lines are `PRIVMSG`, `JOIN`, …, the mouth's events `event.registered`, ….
# gdbus monitor cannot ask the bus for one route only, so every message comes; all but ours are
# skipped here on their route, before a byte of them is decoded.
ROUTE="('PRIVMSG.command.@@COMMAND@@', "
on_message() {
  local text=$1 hex irc
  [[ $text == "$ROUTE"* ]] || return 0 # another route: not for us
  text=${text#"$ROUTE"}
  [[ $text =~ ^\(\[\[byte\ ([^]]*)\] ]] || return 0 # no lines (a forged route): nothing to answer
  hex=${BASH_REMATCH[1]//0x/\\x}
  printf -v irc '%b' "${hex//, /}" # the first line, as bytes

  # [@tags ]:nick!user@host PRIVMSG target :text
  local rest=$irc nick= target said
  [[ $rest == @* ]] && rest=${rest#* }
  if [[ $rest == :* ]]; then nick=${rest%% *}; nick=${nick#:}; nick=${nick%%!*}; rest=${rest#* }; fi
  [[ $rest =~ ^PRIVMSG\ ([^ ]+)\ :?(.*)$ ]] || return 0
  target=${BASH_REMATCH[1]} said=${BASH_REMATCH[2]}

  gv_cut "$text"
  local id network mynick= channel=0
  meta hive.id && id=$VALUE || return 0
  meta hive.network && network=$VALUE || return 0
  meta hive.nick && mynick=$VALUE
  [[ $target == [\#\&+!]* ]] && channel=1

  # A command: `!@@COMMAND@@ …`, `hivebot: @@COMMAND@@ …` (any case, `:` or `,`), or a private `@@COMMAND@@ …`.
  local lower=${said,,}
  if [[ -n $PREFIX && $said == "$PREFIX"* ]]; then said=${said:${#PREFIX}}
  elif [[ -n $mynick && ( $lower == "${mynick,,}:"* || $lower == "${mynick,,},"* ) ]]; then said=${said:${#mynick}+1}
  elif (( channel )); then return 0
  fi
  said=${said#"${said%%[! ]*}"} # leading spaces
  local command=${said%% *} args=
  [[ ${command,,} == @@COMMAND@@ ]] || return 0
  [[ $said == *' '* ]] && args=${said#* }
  args=${args#"${args%%[! ]*}"}

  local to=$target
  (( channel )) || to=$nick
  answer "$nick" "$args" || return 0
  log 20 'answering' replyTo "$id"

  # The reply (docs/protocol.md#replies): the network and the id it answers, our own id, origin, path.
  COUNT=$(( COUNT + 1 ))
  local line lines=
  while IFS= read -r line; do [[ -n $line ]] && lines+="${lines:+, }$(gv_bytes "PRIVMSG $to :$line")"; done <<< "$ANSWER"
  [[ -n $lines ]] || return 0
  local reply="([$lines], {'hive.network': <$(gv_str "$network")>"
  reply+=", 'hive.reply_to': <$(gv_str "$id")>, 'hive.id': <'$NODE-$RUN-$COUNT'>"
  reply+=", 'hive.origin': <'$NODE'>, 'hive.path': <['$NODE']>"
  meta_true hive.replayed && reply+=", 'hive.replayed': <true>"
  send_up "$reply})"
}

send_up() { # MESSAGE — SendAs on the parent; if it forgot us (NotChild), join again and retry once
  local out
  [[ -n $KEY ]] || { log 50 'no parent to answer to (waiting for one)'; return 1; }
  out=$(parent_call SendAs "$(gv_str "$KEY")" "$1") && return 0
  if [[ $out == *org.hive.Error.NotChild* ]] && KEY= && join; then
    out=$(parent_call SendAs "$(gv_str "$KEY")" "$1") && return 0
  fi
  log 50 'message not delivered' error "$out"
  return 1
}

trap on_tick USR1 # before the ticker starts: SIGUSR1 would end a shell with no trap for it
trap stop TERM INT
log 30 'node starting' parent "$PARENT" run "$RUN"
follow "$PARENT"
while true; do
  # read resumes after a trap has run, and keeps what it had read of the line so far.
  if ! IFS= read -r line <&"$MON"; then
    log 60 'lost the connection to the bus (gdbus monitor ended)'
    stop_listening
    exit 1
  fi
  # gdbus monitor shows the signals of whoever owns the name now: only those of the parent joined count.
  [[ $line == "/org/hive/Node: "* && -z $PARENT_UNIQUE ]] && continue
  case $line in
    "/org/hive/Node: org.hive.Node1.Message "*)
      on_message "${line#*Message }" ;;
    "/org/hive/Node: org.hive.Node1.Reparent "*) # ('org.hive.default.mouth',) — our parent is going
      gv_cut "${line#*Reparent }"
      if [[ -n ${STRS[0]:-} ]]; then move_to "${STRS[0]}"; else log 30 'parent going away; waiting for it'; fi ;;
    "/org/hive/Node: org.hive.Node1.MoveChild "*) # ('@@NAME@@', 'org.hive.default.filter') — the supervisor moves us
      gv_cut "${line#*MoveChild }"
      [[ ${STRS[0]:-} == "$NODE" && -n ${STRS[1]:-} ]] && move_to "${STRS[1]}" ;;
    "The name $PARENT is owned by "*) # the parent is on the bus (again: a new owner has forgotten us)
      PARENT_UNIQUE=${line##* } KEY=
      if (( NAMED )) || check_parent "$PARENT_UNIQUE"; then NAMED=0; join; else PARENT_UNIQUE=; fi ;;
    "The name $PARENT does not have an owner")
      [[ -n $PARENT_UNIQUE ]] && log 40 'parent lost; waiting for it' parent "$PARENT"
      PARENT_UNIQUE= KEY= ;;
  esac
done
