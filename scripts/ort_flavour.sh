#!/usr/bin/env bash
# Prints which ONNX Runtime wheel to install: "gpu" on Linux x86-64 with a working NVIDIA driver, else "cpu".
# Override with CHROMALUMA_ORT=cpu|gpu.
if [ -n "${CHROMALUMA_ORT:-}" ]; then echo "$CHROMALUMA_ORT"; exit 0; fi
if [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ] && command -v nvidia-smi >/dev/null 2>&1 \
   && nvidia-smi -L >/dev/null 2>&1; then
  echo gpu
else
  echo cpu
fi
