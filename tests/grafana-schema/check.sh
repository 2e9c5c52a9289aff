#!/usr/bin/env bash
# Type-checks every Grafana dashboard in configs/grafana/dashboards/ against @grafana/schema
# (the versions pinned in package.json / package-lock.json) with `tsc --noEmit`, and checks that
# every panel and query uses the provisioned data source (uid recce7-prometheus).
# Needs node and npm (Debian: apt-get install -y nodejs npm); reaches only the npm registry, and
# only when node_modules is missing or older than package-lock.json.
set -euo pipefail
cd "$(dirname "$0")"

dashboards_dir=../../configs/grafana/dashboards

command -v npm >/dev/null || {
    echo "check.sh: npm not found: apt-get install -y nodejs npm" >&2
    exit 1
}

if [ ! -f node_modules/.package-lock.json ] ||
    [ package-lock.json -nt node_modules/.package-lock.json ] ||
    [ package.json -nt node_modules/.package-lock.json ]; then
    echo "check.sh: installing the pinned @grafana/schema and typescript (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error </dev/null
fi

# check.ts imports each dashboard by name: a new dashboard must be added there too.
for f in "$dashboards_dir"/*.json; do
    name=$(basename "$f")
    grep -q "dashboards/$name'" check.ts || {
        echo "check.sh: $name is not imported by tests/grafana-schema/check.ts; add it there" >&2
        exit 1
    }
done

echo "check.sh: tsc $(npx tsc --version </dev/null), @grafana/schema $(node -p 'require("./node_modules/@grafana/schema/package.json").version')"
if ! npx tsc --noEmit -p . </dev/null; then
    echo "check.sh: FAILED: a dashboard does not fit @grafana/schema (the check.ts line names it)" >&2
    exit 1
fi
echo "check.sh: $(ls "$dashboards_dir"/*.json | wc -l) dashboards fit the @grafana/schema Dashboard type"

# What a type cannot say: the data source of every panel and query, and that each PromQL
# expression runs verbatim in Prometheus (no Grafana $variables).
node - "$dashboards_dir"/*.json <<'JS'
const fs = require('fs');
const path = require('path');
let bad = 0;
for (const file of process.argv.slice(2)) {
  const d = JSON.parse(fs.readFileSync(file, 'utf8'));
  const problems = [];
  const uidOf = (x) => (x && x.datasource ? x.datasource.uid : undefined);
  for (const p of d.panels || []) {
    if (uidOf(p) !== 'recce7-prometheus') problems.push(`panel "${p.title}": datasource uid ${uidOf(p)}`);
    if (!(p.targets || []).length) problems.push(`panel "${p.title}": no queries`);
    for (const t of p.targets || []) {
      if (uidOf(t) !== 'recce7-prometheus') problems.push(`panel "${p.title}" ${t.refId}: datasource uid ${uidOf(t)}`);
      if (typeof t.expr !== 'string' || !t.expr.trim()) problems.push(`panel "${p.title}" ${t.refId}: no expr`);
      else if (t.expr.includes('$')) problems.push(`panel "${p.title}" ${t.refId}: Grafana variable in ${t.expr}`);
    }
  }
  const queries = (d.panels || []).reduce((n, p) => n + (p.targets || []).length, 0);
  if (problems.length) {
    bad++;
    for (const m of problems) console.error(`check.sh: ${path.basename(file)}: ${m}`);
  } else {
    console.log(`check.sh: ok ${path.basename(file)} (schemaVersion ${d.schemaVersion}, ${d.panels.length} panels, ${queries} queries, all on recce7-prometheus)`);
  }
}
process.exit(bad ? 1 : 0);
JS
