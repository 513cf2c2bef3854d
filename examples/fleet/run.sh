#!/usr/bin/env bash
# A fleet a user can start: three plugway replicas on one PostgreSQL, an A/B change through one.
#
#   examples/fleet/run.sh            # uses postgresql://root@127.0.0.1:5432/postgres
#   PG_URL=postgresql://me:secret@db:5432/postgres examples/fleet/run.sh
#
# It creates the database plugway_fleet_example there (if missing), starts replicas on ports
# 8091, 8092 and 8093 (separate data folders under a temporary directory, one admin token),
# puts a 90/10 A/B split on replica 1, shows every replica serving it (plugway fleet, explain
# on each), and stops the replicas on exit. KEEP=1 leaves them running until Ctrl-C.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
PG_URL="${PG_URL:-postgresql://root@127.0.0.1:5432/postgres}"
DB="plugway_fleet_example"
PORTS=(8091 8092 8093)
TOKEN="fleet-example-token"
WORK="$(mktemp -d -t plugway-fleet-XXXXXX)"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "replicas stopped; logs were in $WORK"
}
trap cleanup EXIT

# 1. the database (psycopg from the venv, so no psql is needed)
DB_URL="$("$PY" - "$PG_URL" "$DB" <<'PYEOF'
import sys
from urllib.parse import urlsplit, urlunsplit
import psycopg
url, name = sys.argv[1], sys.argv[2]
with psycopg.connect(url, autocommit=True) as c:
    if c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
        c.execute(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0')
p = urlsplit(url)
print(urlunsplit((p.scheme, p.netloc, "/" + name, p.query, "")))
PYEOF
)"

# 2. one config file for the fleet: the registry (and with it routing and revisions) in PostgreSQL
cat > "$WORK/config.yaml" <<YAML
server:
  admin_token: $TOKEN
registry:
  backend: postgresql
  url: $DB_URL
YAML

# 3. three replicas
for i in 0 1 2; do
  mkdir -p "$WORK/replica$((i + 1))"
  PLUGWAY_DATA_DIR="$WORK/replica$((i + 1))" "$PY" -m plugway serve --config "$WORK/config.yaml" \
    --port "${PORTS[$i]}" > "$WORK/replica$((i + 1)).log" 2>&1 &
  PIDS+=($!)
done
for port in "${PORTS[@]}"; do
  for _ in $(seq 1 200); do
    curl -fs "http://127.0.0.1:$port/healthz" > /dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fs "http://127.0.0.1:$port/healthz" > /dev/null || { echo "replica on $port did not start"; cat "$WORK"/*.log; exit 1; }
done
echo "three replicas up on ports ${PORTS[*]} (database ${DB_URL%%\?*})"

# 4. an A/B change through replica 1: 90 % bm25, 10 % tfidf, sticky per subject
DS="$("$PY" -c 'from plugway.modules.doc_search import DOC_SEARCH_CONTRACT as C; print(C.type_id)')"
cat > "$WORK/ab.yaml" <<YAML
rules:
  - name: ab
    split:
      key: subject_id
      variants:
        - {plugin: "${DS}plugway.builtin.bm25_ranker.plugin.v1", weight: 90}
        - {plugin: "${DS}plugway.builtin.tfidf_ranker.plugin.v1", weight: 10}
YAML
export PLUGWAY_TOKEN="$TOKEN"
"$PY" -m plugway plugins --url "http://127.0.0.1:${PORTS[0]}" routing set doc_search "$WORK/ab.yaml" \
  --comment "A/B: 10 % on tfidf"
sleep 0.3

# 5. every replica serves it; each subject gets the same plugin everywhere
"$PY" -m plugway fleet --url "http://127.0.0.1:${PORTS[1]}"
for subject in alice bob carol; do
  for port in "${PORTS[@]}"; do
    plugin="$(curl -fs "http://127.0.0.1:$port/plugins/v1/gateways/doc_search/explain?subject_id=$subject" \
      | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["plugin"].rsplit("~",1)[-1], "revision", d["revision"])')"
    echo "replica :$port  subject $subject -> $plugin"
  done
done

if [ "${KEEP:-0}" = "1" ]; then
  echo "KEEP=1: replicas keep running; Ctrl-C stops them"
  wait
fi
