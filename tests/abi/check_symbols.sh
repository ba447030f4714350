#!/usr/bin/env bash
# Exported-symbols test. The shared library must export exactly the functions
# that the public headers declare with CQ_API (nothing extra, nothing missing),
# each as the default version of the node CQUEUE_1.0, and carry the SONAME
# libcqueue.so.1.
#
#   check_symbols.sh <libcqueue.so.1> <directory of the public headers>
#
# Environment: NM, READELF (tools), CQ_VERSION_NODE (default CQUEUE_1.0),
# CQ_SONAME (default libcqueue.so.1). When a release adds a node (CQUEUE_1.1),
# this test must learn which function belongs to which node.
set -euo pipefail
export LC_ALL=C

if [[ $# -ne 2 ]]; then
    echo "usage: $0 <libcqueue.so.1> <public header dir>" >&2
    exit 2
fi
lib=$1
hdrdir=$2
nm=${NM:-nm}
readelf=${READELF:-readelf}
node=${CQ_VERSION_NODE:-CQUEUE_1.0}
soname=${CQ_SONAME:-libcqueue.so.1}

fail=0
problem() {
    printf 'FAIL: %s\n' "$*" >&2
    fail=1
}

[[ -f $lib ]] || { echo "FAIL: no library at $lib" >&2; exit 1; }
shopt -s nullglob
headers=("$hdrdir"/*.h)
((${#headers[@]})) || { echo "FAIL: no headers in $hdrdir" >&2; exit 1; }

# --- the functions the headers declare with CQ_API ------------------------------
# Drop comments and preprocessor lines, join the rest, cut it into declarations
# at ';', '{' and '}', and take from each declaration that starts with CQ_API the
# identifier right before its first '('.
declared=$(
    for h in "${headers[@]}"; do
        awk '
            { text = text $0 "\n" }
            END {
                out = ""; n = length(text); i = 1
                while (i <= n) {
                    two = substr(text, i, 2); one = substr(text, i, 1)
                    if (two == "/*") {
                        j = index(substr(text, i + 2), "*/")
                        if (j == 0) { print "unterminated comment" > "/dev/stderr"; exit 1 }
                        out = out " "; i += j + 3
                    } else if (two == "//") {
                        j = index(substr(text, i), "\n"); if (j == 0) j = n - i + 1
                        i += j - 1
                    } else if (one == "\"") {
                        j = i + 1
                        while (j <= n && substr(text, j, 1) != "\"") j += (substr(text, j, 1) == "\\") ? 2 : 1
                        out = out substr(text, i, j - i + 1); i = j + 1
                    } else {
                        out = out one; i++
                    }
                }
                printf "%s", out
            }' "$h" |
            awk '
                cont { cont = /\\$/; next }
                /^[ \t]*#/ { cont = /\\$/; next }
                { printf "%s ", $0 }'
        echo
    done |
        tr ';{}' '\n\n\n' |
        sed -n -E 's/^[[:space:]]*CQ_API[[:space:]][^(]*[^A-Za-z0-9_(]([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*\(.*/\1/p' |
        sort
)
if [[ -z $declared ]]; then
    echo "FAIL: found no CQ_API declarations in ${headers[*]}" >&2
    exit 1
fi
dups=$(uniq -d <<<"$declared")
[[ -z $dups ]] || problem "declared more than once: $dups"
declared=$(uniq <<<"$declared")

# --- what the library exports ----------------------------------------------------
# nm prints "value type name@@node" (default version) or "name@node" (hidden);
# the node itself appears as an absolute symbol named after it.
exports=$("$nm" -D --defined-only --with-symbol-versions "$lib")
nodes=$(awk '$2 == "A" && $3 !~ /@/ { print $3 }' <<<"$exports" | sort)
syms=$(awk '!($2 == "A" && $3 !~ /@/) { print $3 }' <<<"$exports")
exported=$(sed -E 's/@.*//' <<<"$syms" | sort | uniq)

extra=$(comm -13 <(printf '%s\n' "$declared") <(printf '%s\n' "$exported"))
missing=$(comm -23 <(printf '%s\n' "$declared") <(printf '%s\n' "$exported"))
[[ -z $extra ]] || problem "exported but not declared with CQ_API:" $extra
[[ -z $missing ]] || problem "declared with CQ_API but not exported:" $missing

# Every export must be the default version (@@) of the node.
while read -r sym; do
    [[ -n $sym ]] || continue
    [[ $sym == *"@@$node" ]] || problem "$sym does not carry the default version $node"
done <<<"$syms"
[[ $nodes == "$node" ]] || problem "version nodes defined: '${nodes//$'\n'/ }', expected '$node'"

# Non-function exports (data, TLS) have no place in this ABI.
nonfunc=$(awk '!($2 == "A" && $3 !~ /@/) && $2 !~ /^[TWi]$/ { print $3 " (" $2 ")" }' <<<"$exports")
[[ -z $nonfunc ]] || problem "exported symbols that are not functions:" $nonfunc

# --- SONAME ------------------------------------------------------------------------
actual_soname=$("$readelf" -d "$lib" | sed -n -E 's/.*\(SONAME\).*\[(.*)\].*/\1/p')
[[ $actual_soname == "$soname" ]] || problem "SONAME is '$actual_soname', expected '$soname'"

if ((fail)); then
    echo "declared with CQ_API: $(echo $declared)" >&2
    echo "nm -D --defined-only $lib:" >&2
    echo "$exports" >&2
    exit 1
fi
echo "ok: $lib exports the $(wc -l <<<"$declared") CQ_API functions of $hdrdir, all @@$node; SONAME $soname"
