#!/usr/bin/env bash
# Validates the deployment descriptors: template.yaml with cfn-lint (AWS SAM and CloudFormation rules) and
# vercel.json with tools/vercel/check_config.mjs (the Vercel CLI's own schemas, plus the functions against api/,
# Cargo.toml and the router). Installs pinned cfn-lint into target/cfn-lint-venv and the checker's npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/cfn-lint-venv
[ -x "$venv/bin/cfn-lint" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q cfn-lint==1.58.0; }
"$venv/bin/cfn-lint" template.yaml
echo "template.yaml: cfn-lint passed"
[ -d tools/vercel/node_modules ] || npm ci --prefix tools/vercel --no-audit --no-fund --loglevel=error
node tools/vercel/check_config.mjs vercel.json
