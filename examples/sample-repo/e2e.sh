#!/usr/bin/env bash
set -euo pipefail
echo "end-to-end tests against a real deployment"
