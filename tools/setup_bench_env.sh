#!/bin/sh
# Creates the benchmark peers' virtual environment .venv-bench (gitignored) from PyPI:
#   - PyTorch: the standard PyPI wheel. On Linux x86_64 that wheel is the CUDA build and names
#     about 3 GB of NVIDIA packages (plus triton) as dependencies. This machine has no GPU, so
#     we install torch with --no-deps, then only the packages its shared libraries are linked
#     against (the dynamic loader needs them to import torch even on a CPU-only machine), at the
#     exact versions torch's metadata pins: CUDA runtime, CUPTI, NVRTC, cuBLAS, cuFFT, cuFile,
#     cuSPARSE, nvJitLink, cuDNN, cuSPARSELt, NCCL, NVSHMEM. Left out: triton (torch.compile's
#     GPU code generator), cuda-bindings, cuSOLVER (loaded only by GPU linear algebra), NVTX,
#     CCCL and the cuda-toolkit meta-package. If `import torch` still fails (a later torch may
#     link another library), the script falls back to the full dependency set.
#   - Keras 3 with the TensorFlow backend, from tensorflow-cpu (what most Keras users run).
# Versions are pinned for repeatable results; override with TORCH_VERSION, KERAS_VERSION,
# TF_VERSION. PYTHON picks the interpreter (default python3, 3.10 to 3.13), BENCH_VENV the folder.
set -eu
cd "$(dirname "$0")/.."

VENV=${BENCH_VENV:-.venv-bench}
PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.15.0}
KERAS_VERSION=${KERAS_VERSION:-3.15.1}
TF_VERSION=${TF_VERSION:-2.21.0}

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup_bench_env: creating $VENV with $($PYTHON --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip

# --- PyTorch --------------------------------------------------------------------------------
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
    echo "setup_bench_env: resolving torch==$TORCH_VERSION's dependencies (metadata only)"
    report=$(mktemp)
    "$PY" -m pip install -q --dry-run --ignore-installed --report "$report" "torch==$TORCH_VERSION"
    # name==version for every resolved package except the ones a CPU-only import never loads
    pins=$("$PY" - "$report" <<'EOF'
import json, sys
skip = {"triton", "cuda-bindings", "cuda-pathfinder", "cuda-toolkit", "nvidia-cusolver",
        "nvidia-nvtx", "nvidia-cuda-cccl"}
for item in json.load(open(sys.argv[1]))["install"]:
    name = item["metadata"]["name"].lower().replace("_", "-")
    if name not in skip and not any(name.startswith(s + "-cu") for s in skip):
        print(f"{name}=={item['metadata']['version']}")
EOF
)
    rm -f "$report"
    echo "setup_bench_env: installing (no further dependencies):" $pins
    # shellcheck disable=SC2086
    "$PY" -m pip install -q --no-deps $pins
    if ! "$PY" -c "import torch" 2>/dev/null; then
        echo "setup_bench_env: import torch failed with the reduced set; installing all of" \
             "torch's dependencies"
        "$PY" -m pip install -q "torch==$TORCH_VERSION"
    fi
fi

# --- Keras 3 + TensorFlow (CPU) -------------------------------------------------------------
if ! "$PY" -c "import keras, tensorflow" >/dev/null 2>&1; then
    echo "setup_bench_env: installing keras==$KERAS_VERSION tensorflow-cpu==$TF_VERSION"
    "$PY" -m pip install -q "keras==$KERAS_VERSION" "tensorflow-cpu==$TF_VERSION" numpy
fi

"$PY" - <<'EOF'
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy, torch, tensorflow, keras
print(f"setup_bench_env: ready: torch {torch.__version__} (threads {torch.get_num_threads()}), "
      f"keras {keras.__version__} on tensorflow {tensorflow.__version__}, numpy {numpy.__version__}")
EOF
du -sh "$VENV" 2>/dev/null | sed 's/^/setup_bench_env: size /'
