#!/bin/sh
# make test-browser: each gallery page (docs/gallery/*.html) in headless Chromium. A page passes
# when the browser logs no console error or uncaught exception, its script ran to the end (it
# marks <body data-ready="1">), and the DOM the browser renders (--dump-dom) holds the drawing:
# the inline <svg>, as many cells, outputs and state arrows as the standalone SVG beside it, and
# the tooltip element. A screenshot of each page goes to OUT_DIR for people to look at (never
# compared pixel by pixel). Without chromium the test says skipped and succeeds.
# usage: sh tests/browser_gallery.sh GALLERY_DIR OUT_DIR
set -u
dir=${1:-docs/gallery}
out=${2:-build/browser}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "test-browser: skipped (no chromium; BROWSER=1 sh scripts/deps.sh installs it)"
    exit 0
fi
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 pages=0
err() { echo "test-browser: $*" >&2; fail=1; }
count() { grep -o "$1" "$2" | wc -l; }
flags="--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --user-data-dir=$tmp/profile"
for page in "$dir"/*.html; do
    [ -f "$page" ] || { err "no pages in $dir"; break; }
    name=$(basename "$page" .html)
    url="file://$(cd "$(dirname "$page")" && pwd)/$(basename "$page")"
    # shellcheck disable=SC2086
    timeout 120 "$browser" $flags --enable-logging=stderr --v=0 --dump-dom "$url" \
        >"$tmp/dom.html" 2>"$tmp/log" || err "$name: chromium failed ($(tail -n 2 "$tmp/log"))"
    if grep -E 'CONSOLE.*(Uncaught|Error|error)|:ERROR:CONSOLE' "$tmp/log" >"$tmp/console"; then
        err "$name: console errors:"; sed 's/^/    /' "$tmp/console" >&2
    fi
    grep -q '<body data-ready="1"' "$tmp/dom.html" || err "$name: the page's script did not run to its end"
    grep -q '<svg' "$tmp/dom.html" || err "$name: no <svg> in the rendered DOM"
    grep -q 'id="tip"' "$tmp/dom.html" || err "$name: no tooltip element"
    svg="$dir/$name.svg"
    for kind in 'data-kind="cell"' 'data-kind="output"' 'data-kind="state"' 'data-kind="flow"'; do
        want=$(count "$kind" "$svg")
        got=$(count "$kind" "$tmp/dom.html")
        [ "$got" = "$want" ] || err "$name: $got elements $kind rendered, the SVG has $want"
    done
    [ "$(count 'data-kind="cell"' "$tmp/dom.html")" -gt 0 ] || err "$name: no cells rendered"
    w=$(sed -n 's/.*<svg[^>]* width="\([0-9]*\)".*/\1/p' "$svg" | head -n 1)
    h=$(sed -n 's/.*<svg[^>]* height="\([0-9]*\)".*/\1/p' "$svg" | head -n 1)
    # shellcheck disable=SC2086
    timeout 120 "$browser" $flags --window-size="$((w + 48)),$((h + 80))" \
        --screenshot="$out/$name.png" "$url" >/dev/null 2>&1 || err "$name: no screenshot"
    [ -s "$out/$name.png" ] || err "$name: empty screenshot"
    pages=$((pages + 1))
done
[ $fail = 0 ] && echo "test-browser: $pages gallery pages rendered without errors; screenshots in $out"
exit $fail
