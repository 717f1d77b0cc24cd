#!/bin/sh
# make gallery: the scenario examples draw their models (examples/gallery.h) into a folder,
# docs/gallery by default. Every picture is of the model's structure only (no values), so the
# files are the same on every machine; tests/test_explain.sh regenerates them and compares.
# usage: sh scripts/gallery.sh BUILD_DIR OUT_DIR
set -eu
build=${1:-build}
out=${2:-docs/gallery}
mkdir -p "$out"
unset RNN_QUICK
for ex in s01_airline_window s02_stateful_batches s04_many_to_one_many_to_many \
          s05_variable_length s06_one_to_many s07_forecast_future s08_autoencoder s09_char_model; do
    RNN_GALLERY=$out "$build/examples/$ex" >/dev/null
done
