#!/bin/sh
# What README.md and docs/*.md quote from running something is run again here and compared, so
# the documentation cannot go stale:
#  - every ```console block: each line "$ COMMAND" is run (sh -c, in a scratch directory that
#    links build/, data/, examples/ and tests/ of this tree), and the lines up to the next "$ "
#    are its expected output, stdout and stderr together; a line "..." stands for any number of
#    lines. The command must exit 0 unless its expected output ends with "[exit N]".
#  - every table row whose first cell is a `build/rnn demo ...` command: the first cell of the
#    form "A / B" must equal the train / test RMSE that the command prints.
set -u
root=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -x build/rnn ] || { echo "test_docs: build/rnn not built" >&2; exit 1; }
fail=0 checked=0

# A new scratch directory for each console block: the commands of one block share it.
new_workdir() {
    rm -rf "$tmp/work" && mkdir "$tmp/work"
    for d in build data examples tests; do ln -s "$root/$d" "$tmp/work/$d"; done
}

check_command() {   # $1 = file:line, command in $tmp/cmd, expected in $tmp/expected
    checked=$((checked + 1))
    want_rc=0
    if tail -1 "$tmp/expected" | grep -q '^\[exit [0-9]*\]$'; then
        want_rc=$(tail -1 "$tmp/expected" | tr -dc 0-9)
        sed -i '$d' "$tmp/expected"
    fi
    (cd "$tmp/work" && sh -c "$(cat "$tmp/cmd")") >"$tmp/actual" 2>&1
    rc=$?
    if [ $rc -ne "$want_rc" ]; then
        echo "test_docs: $1: \`$(cat "$tmp/cmd")\` exited $rc, the documentation expects $want_rc" >&2
        sed 's/^/    | /' "$tmp/actual" | head -20 >&2
        fail=1; return
    fi
    if ! awk '
        # expected lines with "..." as a wildcard for any number of lines, matched greedily
        # from the end of each literal run (enough for the way the docs use it).
        FNR == NR { want[++nw] = $0; next }
        { got[++ng] = $0 }
        END {
            i = 1; j = 1
            while (i <= nw) {
                if (want[i] == "...") {
                    if (i == nw) exit 0
                    while (j <= ng && got[j] != want[i + 1]) j++
                    if (j > ng) exit 1
                    i++; continue
                }
                if (j > ng || got[j] != want[i]) exit 1
                i++; j++
            }
            exit (j <= ng)
        }' "$tmp/expected" "$tmp/actual"; then
        echo "test_docs: $1: the output of \`$(cat "$tmp/cmd")\` differs from the documentation:" >&2
        diff "$tmp/expected" "$tmp/actual" | head -30 | sed 's/^/    /' >&2
        fail=1
    fi
}

for doc in README.md docs/*.md; do
    [ -f "$doc" ] || continue
    # Console blocks: split into command / expected-output pairs.
    in_block=0 have=0 n=0
    while IFS= read -r line || [ -n "$line" ]; do
        n=$((n + 1))
        if [ $in_block = 0 ]; then
            [ "$line" = '```console' ] && in_block=1 && have=0 && new_workdir
            # <!-- file: PATH -->: the fenced block that follows is a copy of PATH.
            case $line in
                '<!-- file: '*' -->')
                    path=${line#<!-- file: }; path=${path% -->}
                    awk -v from=$((n + 1)) 'NR > from && /^```/ {exit} NR > from' "$doc" >"$tmp/quoted"
                    checked=$((checked + 1))
                    if ! cmp -s "$tmp/quoted" "$path"; then
                        echo "test_docs: $doc:$n: the block differs from $path:" >&2
                        diff "$tmp/quoted" "$path" | head -20 | sed 's/^/    /' >&2
                        fail=1
                    fi ;;
            esac
            continue
        fi
        case $line in
            '```')
                [ $have = 1 ] && check_command "$doc:$at"
                in_block=0 have=0 ;;
            '$ '*)
                [ $have = 1 ] && check_command "$doc:$at"
                printf '%s\n' "${line#\$ }" >"$tmp/cmd"; : >"$tmp/expected"; have=1 at=$n ;;
            *)
                [ $have = 1 ] && printf '%s\n' "$line" >>"$tmp/expected" ;;
        esac
    done <"$doc"
    # Demo table rows.
    grep -n '^| `build/rnn demo[^`]*` |' "$doc" | while IFS= read -r row; do
        ln=${row%%:*}; row=${row#*:}
        cmd=$(printf '%s' "$row" | sed 's/^| `\([^`]*\)`.*/\1/')
        want=$(printf '%s' "$row" | tr '|' '\n' | sed 's/^ *//; s/ *$//' | grep -m1 -E '^[0-9]+\.[0-9]+ / [0-9]+\.[0-9]+$')
        [ -n "$want" ] || { echo "test_docs: $doc:$ln: no 'train / test' cell in the row" >&2; echo FAIL; continue; }
        out=$(cd "$tmp" && "$root/build/rnn" ${cmd#build/rnn } --quiet --no-plot 2>&1)
        got="$(printf '%s\n' "$out" | sed -n 's/^train RMSE: //p') / $(printf '%s\n' "$out" | sed -n 's/^test RMSE: //p')"
        if [ "$got" != "$want" ]; then
            echo "test_docs: $doc:$ln: \`$cmd\` prints $got, the table says $want" >&2; echo FAIL
        else
            echo OK
        fi
    done >"$tmp/rows"
    grep -q FAIL "$tmp/rows" && fail=1
    checked=$((checked + $(grep -c . "$tmp/rows")))
done
[ $checked -gt 0 ] || { echo "test_docs: nothing to check: no console blocks or demo rows found" >&2; exit 1; }
[ $fail = 0 ] && echo "test_docs: $checked quoted commands and table rows agree with what they print"
exit $fail
