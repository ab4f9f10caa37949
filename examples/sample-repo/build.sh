#!/usr/bin/env bash
set -euo pipefail
echo "building $APP_NAME at ${GITHUB_SHA:0:7}"
mkdir -p out && cp src/*.txt out/
sleep 1
echo "built: $(ls out)"
