#!/bin/sh
# Creates, or reuses, the Python virtual environment .venv at the repository root with the pinned
# Keras stack that tools/make_keras_fixtures.py runs on (Keras 3 with the TensorFlow backend, on
# CPU). Building and testing librnn need no Python; only regenerating the fixtures does.
#
#   sh tools/setup_python_env.sh && .venv/bin/python tools/make_keras_fixtures.py
#
# Needs python3 with the venv module (Debian: apt-get install python3-venv) and access to PyPI.
set -eu

KERAS=3.15.1
TENSORFLOW=2.21.0
NUMPY=2.4.6
H5PY=3.14.0

cd "$(dirname "$0")/.."
VENV=.venv
PY="$VENV/bin/python"

versions_ok() {
    [ -x "$PY" ] || return 1
    KERAS_WANT=$KERAS TF_WANT=$TENSORFLOW "$PY" - <<'EOF' >/dev/null 2>&1
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import h5py, keras, numpy, tensorflow
assert keras.__version__ == os.environ["KERAS_WANT"], keras.__version__
assert tensorflow.__version__ == os.environ["TF_WANT"], tensorflow.__version__
EOF
}

if versions_ok; then
    echo "setup_python_env: reusing $VENV (keras $KERAS, tensorflow $TENSORFLOW)"
    exit 0
fi

if ! command -v python3 >/dev/null 2>&1; then
    echo "setup_python_env: python3 is missing (Debian: apt-get install python3 python3-venv)" >&2
    exit 1
fi
if [ ! -x "$PY" ]; then
    echo "setup_python_env: creating $VENV"
    python3 -m venv "$VENV" || {
        echo "setup_python_env: 'python3 -m venv' failed (Debian: apt-get install python3-venv)" >&2
        exit 1
    }
fi
"$PY" -m pip install --disable-pip-version-check \
    "keras==$KERAS" "tensorflow-cpu==$TENSORFLOW" "numpy==$NUMPY" "h5py==$H5PY"
if ! versions_ok; then
    echo "setup_python_env: $VENV does not import keras $KERAS and tensorflow $TENSORFLOW" >&2
    exit 1
fi
echo "setup_python_env: $VENV ready (keras $KERAS, tensorflow $TENSORFLOW)"
