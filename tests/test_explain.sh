#!/bin/sh
# rnn explain from the command line (issue 17): every drawing parses as XML (xmllint), the
# committed gallery (docs/gallery) is what `make gallery` makes now, the tool draws every model
# file of the test fixtures and of ../shared/data/keras-models (skipped when absent) as SVG,
# HTML and text within 100 columns, with --input too, and refuses bad options.
set -u
rnn=${RNN:-build/rnn}
build=${BUILD:-build}
fail=0
err() { echo "test_explain: $*" >&2; fail=1; }
[ -x "$rnn" ] || { echo "test_explain: $rnn not built" >&2; exit 1; }
command -v xmllint >/dev/null 2>&1 || { echo "test_explain: xmllint missing (scripts/deps.sh TEST=1 installs libxml2-utils)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The gallery: the committed pictures parse and are the ones the examples draw today.
n=0
for f in docs/gallery/*.svg; do
    [ -f "$f" ] || { err "no SVG in docs/gallery"; break; }
    xmllint --noout "$f" || err "$f is not well-formed XML"
    n=$((n + 1))
done
[ "$n" -ge 8 ] || err "docs/gallery holds $n pictures, expected the 9 scenario drawings"
if sh scripts/gallery.sh "$build" "$tmp/gallery" 2>"$tmp/gallery.log"; then
    for f in "$tmp"/gallery/*; do
        name=$(basename "$f")
        if [ ! -f "docs/gallery/$name" ]; then err "docs/gallery/$name is missing: run make gallery"
        elif ! cmp -s "$f" "docs/gallery/$name"; then err "docs/gallery/$name is stale: run make gallery"
        fi
    done
    for f in docs/gallery/*; do
        [ -f "$tmp/gallery/$(basename "$f")" ] || err "$f is no longer made by make gallery"
    done
else
    err "scripts/gallery.sh failed:"; cat "$tmp/gallery.log" >&2
fi

# Model files: SVG, HTML, text (and ASCII) for each; with the fixture's x.npy where there is one.
check_model() {
    m=$1 x=$2
    "$rnn" explain "$m" --output "$tmp/m.svg" 2>"$tmp/err" || { err "$m: $(cat "$tmp/err")"; return; }
    xmllint --noout "$tmp/m.svg" || err "$m: the SVG is not well-formed XML"
    "$rnn" explain "$m" --output "$tmp/m.html" 2>"$tmp/err" || err "$m (html): $(cat "$tmp/err")"
    grep -q '<svg' "$tmp/m.html" || err "$m: no inline SVG in the page"
    ! grep -q 'https://\|<script src\|<link' "$tmp/m.html" || err "$m: the page loads from elsewhere"
    "$rnn" explain "$m" >"$tmp/m.txt" 2>"$tmp/err" || err "$m (text): $(cat "$tmp/err")"
    "$rnn" explain "$m" --ascii >"$tmp/m.ascii" 2>/dev/null || err "$m (ascii) failed"
    # columns: characters, UTF-8 continuation bytes left out
    wide=$(LC_ALL=C sed 's/[\x80-\xbf]//g' "$tmp/m.txt" |
           LC_ALL=C awk '{ if (length($0) > w) w = length($0) } END { print w + 0 }')
    [ "$wide" -le 100 ] || err "$m: a text line of $wide columns"
    ! LC_ALL=C grep -q '[^ -~]' "$tmp/m.ascii" || err "$m: --ascii printed non-ASCII"
    if [ -n "$x" ]; then
        "$rnn" explain "$m" --input "$x" --output "$tmp/v.svg" 2>"$tmp/err" ||
            { err "$m --input $x: $(cat "$tmp/err")"; return; }
        xmllint --noout "$tmp/v.svg" || err "$m --input: the SVG is not well-formed XML"
        grep -q 'data-kind="heat"' "$tmp/v.svg" || err "$m --input: no values drawn"
    fi
    models=$((models + 1))
}
models=0
for m in tests/fixtures/keras_files/*/model.keras tests/fixtures/cli/lstm_compiled.keras; do
    x="$(dirname "$m")/x.npy"
    [ -f "$x" ] || x=""
    check_model "$m" "$x"
done
shared=../shared/data/keras-models
if [ -d "$shared" ]; then
    for m in "$shared"/*.h5 "$shared"/*.keras; do
        [ -f "$m" ] || continue
        "$rnn" summary "$m" >/dev/null 2>&1 || continue # arrays saved as .h5, not models
        check_model "$m" ""
    done
else
    echo "test_explain: $shared absent: its models skipped"
fi

# Usage errors: status 2, and no file left behind by a failure.
"$rnn" explain >/dev/null 2>&1; [ $? -eq 2 ] || err "rnn explain without a model: not status 2"
"$rnn" explain tests/fixtures/cli/lstm_compiled.keras --steps 2 >/dev/null 2>&1
[ $? -eq 2 ] || err "--steps 2 accepted"
"$rnn" explain tests/fixtures/cli/lstm_compiled.keras --output "$tmp/x.png" >/dev/null 2>&1
[ $? -eq 1 ] && [ ! -e "$tmp/x.png" ] || err "an output named .png accepted"
"$rnn" explain tests/fixtures/cli/lstm_compiled.keras --input tests/fixtures/cli/x.npy --sample 100000 \
    --output "$tmp/s.svg" >/dev/null 2>&1
[ $? -eq 1 ] && [ ! -e "$tmp/s.svg" ] || err "a sample outside the input accepted"
[ $fail = 0 ] && echo "test_explain: gallery fresh, $models model files drawn"
exit $fail
