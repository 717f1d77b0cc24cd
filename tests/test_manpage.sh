#!/bin/sh
# man/rnn.1 against the tool itself: every command that `rnn --help` lists has a section in the
# man page, each section names exactly the options that `rnn COMMAND --help` prints (no more,
# no fewer), and groff formats the page without a warning.
set -u
rnn=${RNN:-build/rnn}
page=man/rnn.1
fail=0
err() { echo "test_manpage: $*" >&2; fail=1; }
[ -x "$rnn" ] || { echo "test_manpage: $rnn not built" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

commands=$("$rnn" --help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p')
[ -n "$commands" ] || err "no commands found in rnn --help"
n=0
for cmd in $commands; do
    n=$((n + 1))
    grep -qx "\.SS $cmd" "$page" || { err "rnn --help lists '$cmd', the man page has no section for it"; continue; }
    # The section's text, roff's \- read as -.
    awk -v c="$cmd" '$0 == ".SS " c {on = 1; next} /^\.S[SH] / {on = 0} on' "$page" |
        sed 's/\\-/-/g' | grep -o -- '--[a-z][a-z-]*' | sort -u >"$tmp/man.$cmd"
    if [ "$cmd" = version ]; then
        # `rnn version` has no options of its own; its section names the aliases main() takes.
        for alias in --version -V; do
            "$rnn" "$alias" | grep -q '^librnn ' || err "rnn $alias does not print the version"
        done
        continue
    fi
    "$rnn" "$cmd" --help >"$tmp/help.$cmd" 2>&1
    grep -o -- '--[a-z][a-z-]*' "$tmp/help.$cmd" | grep -vx -- '--help' | sort -u >"$tmp/cli.$cmd"
    [ -s "$tmp/cli.$cmd" ] || [ "$cmd" = summary ] || [ "$cmd" = convert ] ||
        err "rnn $cmd --help printed no options"
    comm -23 "$tmp/cli.$cmd" "$tmp/man.$cmd" | while read -r o; do
        echo "test_manpage: rnn $cmd --help has $o, the man page's section does not" >&2; echo x
    done | grep -q x && fail=1
    comm -13 "$tmp/cli.$cmd" "$tmp/man.$cmd" | while read -r o; do
        echo "test_manpage: the man page gives $cmd the option $o, rnn $cmd --help does not" >&2; echo x
    done | grep -q x && fail=1
done
# Sections for commands that no longer exist.
for s in $(sed -n 's/^\.SS \([a-z][a-z]*\)$/\1/p' "$page"); do
    echo "$commands" | grep -qx "$s" || err "the man page has a section for '$s', which rnn --help does not list"
done
if command -v groff >/dev/null 2>&1; then
    groff -man -Tutf8 -ww -z "$page" >"$tmp/groff.log" 2>&1 || err "groff failed on $page"
    [ -s "$tmp/groff.log" ] && { err "groff warns:"; cat "$tmp/groff.log" >&2; }
fi
[ $fail = 0 ] && echo "test_manpage: $n commands, man page and --help agree"
exit $fail
