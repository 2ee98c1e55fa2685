#!/bin/sh
# No two files call each other in a loop (make lint): the file-level call graph from the objects.
#
#   sh scripts/cycles.sh BUILD_DIR OBJECT...
#
# For each object, nm gives the symbols it defines and those it leaves undefined; an edge A -> B
# is A's object using a symbol B's object defines (symbols of libraries are defined by no object,
# so they make no edge). Any strongly connected component of more than one file is a loop: each
# is printed with the edges inside it and the symbols behind each edge, and the script exits 1.
# CYCLES_REPORT=1 prints the same and exits 0. Needs only sh, awk and nm (binutils).
set -eu
[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR OBJECT..." >&2; exit 2; }
build=${1%/}
shift
for o in "$@"; do
    [ -f "$o" ] || { echo "cycles: $o is missing; build the objects first" >&2; exit 2; }
done

# One line per symbol: "D file sym" or "U file sym", file as its source path.
nm -o -g "$@" | awk -v build="$build/" '
{
    obj = $1
    sub(/:[^:]*$/, "", obj)            # "x.o:0000 T sym" or "x.o: U sym" with -o
    if (index(obj, build) == 1) obj = substr(obj, length(build) + 1)
    sub(/\.o$/, ".c", obj)
    if (NF == 3) { type = $2; sym = $3 } else { type = $(NF - 1); sym = $NF }
    if (type == "U") print "U", obj, sym
    else if (type != "w" && type != "v") print "D", obj, sym
}' | awk -v report="${CYCLES_REPORT:-0}" '
$1 == "D" { def[$3] = $2; next }
$1 == "U" { nu++; ufile[nu] = $2; usym[nu] = $3; next }
END {
    for (i = 1; i <= nu; i++) {
        b = def[usym[i]]
        a = ufile[i]
        if (b == "" || b == a) continue
        if (!((a, b) in edge)) {
            edge[a, b] = usym[i]
            nsucc[a]++
            succ[a, nsucc[a]] = b
        } else if (length(edge[a, b]) < 200) {
            edge[a, b] = edge[a, b] ", " usym[i]
        } else if (!((a, b) in cut)) {
            edge[a, b] = edge[a, b] ", ..."
            cut[a, b] = 1
        }
        node[a] = 1; node[b] = 1
    }
    # Visit in sorted order so that the report is stable.
    n = 0
    for (v in node) names[++n] = v
    sortarr(names, n)
    idx = 0; sp = 0; ncomp = 0
    for (i = 1; i <= n; i++)
        if (!(names[i] in index_of)) strong(names[i])
    if (ncomp == 0) { print "cycles: ok, no loop between files"; exit 0 }
    for (c = 1; c <= ncomp; c++) {
        m = 0
        for (v in comp_of) if (comp_of[v] == c) members[++m] = v
        sortarr(members, m)
        printf "cycles: %d files call each other in a loop:\n", m
        for (i = 1; i <= m; i++) printf "  %s\n", members[i]
        print "  edges inside it (caller -> callee: symbols):"
        for (i = 1; i <= m; i++)
            for (j = 1; j <= m; j++)
                if ((members[i], members[j]) in edge)
                    printf "    %s -> %s: %s\n", members[i], members[j], edge[members[i], members[j]]
    }
    print "cycles: cut each loop (a callback handed by the caller, or move the function to the file it belongs to); README, Contributing"
    exit (report == "1" ? 0 : 1)
}
# Tarjan: one recursive visit; locals after the extra spaces.
function strong(v,    k, w, x, size) {
    index_of[v] = low[v] = ++idx
    stack[++sp] = v; on[v] = 1
    for (k = 1; k <= nsucc[v]; k++) {
        w = succ[v, k]
        if (!(w in index_of)) {
            strong(w)
            if (low[w] < low[v]) low[v] = low[w]
        } else if (on[w] && index_of[w] < low[v]) {
            low[v] = index_of[w]
        }
    }
    if (low[v] != index_of[v]) return
    size = 0
    for (k = sp; stack[k] != v; k--) size++
    size++
    if (size > 1) ncomp++
    do {
        x = stack[sp--]; on[x] = 0
        if (size > 1) comp_of[x] = ncomp
    } while (x != v)
}
function sortarr(a, n,    i, j, t) {
    for (i = 2; i <= n; i++) {
        t = a[i]
        for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
        a[j + 1] = t
    }
}'
