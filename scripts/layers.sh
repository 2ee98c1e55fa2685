#!/bin/sh
# The include rule between rooms (make lint): a file may include the headers of its own layer
# and of the layers below, never above. include/ is flat, so a header belongs to the room of
# the .c file of the same name (x_internal.h goes with x.h; a header whose module is split
# into files of other names has a row). The table below is the rule; README.md
# (Contributing) says why the layers are where they are.
set -eu
cd "$(dirname "$0")/.."

# path pattern (shell glob, first match wins) and its layer.
#   0 core: what everything uses, including the process context and the option table
#   1 transport and storage: the database, the HTTP listener, replies and client
#   2 protocol pieces: signatures, actors, activities, keys, remote actors, delivery; the AT
#     Protocol's pieces (atproto/: JOSE, identity, XRPC, OAuth client)
#   3 features: the inbox and what activities do, the bridge, stand-ins, discovery (WebFinger
#     answers for stand-ins too), the targeted relay, members, reconnection, the site
#   4 composition: the route table, the program's entry, the operator's commands
table='
server/core/*                 0
server/app.c                  0
server/config.c               0
db/*                          1
server/http/routes.c          4
server/http/*                 1
include/db.h                  1
activitypub/httpsig/*         2
activitypub/activity.c        2
activitypub/actor.c           2
activitypub/keys.c            2
activitypub/apsign.c          2
activitypub/remote.c          2
activitypub/domains.c         2
activitypub/htmltext.c        2
atproto/*                     2
server/delivery/*             2
activitypub/inbox.c           3
activitypub/dispatch.c        3
activitypub/groupcommit.c     3
activitypub/bridge.c          3
activitypub/standin.c         3
activitypub/move.c            3
activitypub/memberfollow.c    3
webfinger/*                   3
activitypub/relay/*           3
server/members/*              3
server/reconnect/*            3
server/site/*                 3
server/main.c                 4
server/admin/*                4
'

# Headers some files must not include although the layers would let them, and the only
# files that may include a header (layout.md 1.4).
#   never FILE HEADER / only HEADER FILE...
named='
only  httpd.h     server/main.c
never activitypub/dispatch.c reply.h
never activitypub/dispatch.c inbox.h
'

srcs=$(find server activitypub atproto webfinger db -name '*.c' | sort)
hdrs=$(find include -name '*.h' | sort)

# Every file with its layer; then every quoted include, header to file through the .c names.
{
    echo "$table" | awk 'NF == 2 { print "T", $1, $2 }'
    echo "$named" | awk 'NF >= 3 { print "N", $0 }'
    for f in $srcs; do echo "S $f"; done
    for h in $hdrs; do echo "H $h"; done
    for f in $srcs $hdrs; do
        sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
            while read -r inc; do echo "I $f $inc"; done
    done
} | awk '
function glob_re(g,    r) {
    r = g
    gsub(/\./, "\\.", r)
    gsub(/\*/, ".*", r)
    return "^" r "$"
}
function layer_of(path,    i) {
    for (i = 1; i <= ntab; i++)
        if (path ~ pat[i])
            return lay[i]
    return ""
}
function base(p) {
    sub(/^.*\//, "", p)
    return p
}
$1 == "T" { ntab++; pat[ntab] = glob_re($2); lay[ntab] = $3; next }
$1 == "N" && $2 == "never" { never[$3 SUBSEP $4] = 1; next }
$1 == "N" && $2 == "only" { for (i = 4; i <= NF; i++) only[$3 SUBSEP $i] = 1; limited[$3] = 1; next }
$1 == "S" {
    l = layer_of($2)
    if (l == "") { print "layers: " $2 " has no layer: add it to the table in scripts/layers.sh"; bad++ }
    layer[$2] = l
    h = base($2); sub(/\.c$/, ".h", h)
    if (h in owner) { print "layers: " h " has two .c files: " owner[h] " and " $2; bad++ }
    owner[h] = $2
    next
}
$1 == "H" {
    h = base($2)
    m = h; sub(/_internal\.h$/, ".h", m)
    l = (m in owner) ? layer[owner[m]] : layer_of("include/" m)
    if (l == "") { print "layers: " $2 " has no .c of its name and no row in the table of scripts/layers.sh"; bad++ }
    layer[$2] = l
    hlayer[h] = l
    where[h] = (m in owner) ? owner[m] : "include/" m
    next
}
$1 == "I" {
    f = $2; inc = $3
    if (!(inc in hlayer)) { print "layers: " f " includes \"" inc "\", which is not in include/"; bad++; next }
    if (layer[f] == "" || hlayer[inc] == "") next
    if (hlayer[inc] + 0 > layer[f] + 0) {
        printf "layers: %s (layer %s) includes %s (layer %s, %s)\n", f, layer[f], inc, hlayer[inc], where[inc]
        bad++
    }
    if ((f SUBSEP inc) in never) { printf "layers: %s must not include %s\n", f, inc; bad++ }
    if ((inc in limited) && !((inc SUBSEP f) in only) && owner[inc] != f) {
        printf "layers: %s includes %s, which only its named users may\n", f, inc
        bad++
    }
}
END {
    if (bad) { printf "layers: %d violation(s) of the include rule (README.md, Contributing: the include rule)\n", bad; exit 1 }
}
'
