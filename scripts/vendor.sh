#!/bin/sh
# Refresh the agent console's vendored libraries from npm: the exact pinned versions
# below, their dist files copied into handoff/console/vendor/ with each license, and
# vendor/README.md rewritten. The page runs from the committed files; npm is only
# needed to refresh them. Usage: sh scripts/vendor.sh   (or: make vendor)
set -eu

PREACT=10.29.8
HTM=3.1.1
SOCKETIO=4.8.1
# The supervisor dashboard's charts (its own block below).
CHARTJS=4.5.1

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/handoff/console/vendor"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

fetch() { # name version -> unpacked into $TMP/<name>
    (cd "$TMP" && npm pack --silent "$1@$2" >/dev/null)
    mkdir -p "$TMP/$1"
    tar -xzf "$TMP/$1-$2.tgz" -C "$TMP/$1" --strip-components=1
}

fetch preact "$PREACT"
fetch htm "$HTM"
fetch socket.io-client "$SOCKETIO"

mkdir -p "$OUT/licenses"
# ES modules; their bare imports ("preact") become relative paths, since the page
# cannot carry an import map (that would be inline script, which the CSP refuses).
cp "$TMP/preact/dist/preact.module.js" "$OUT/preact.module.js"
sed 's|from *"preact"|from "./preact.module.js"|g' \
    "$TMP/preact/hooks/dist/hooks.module.js" > "$OUT/hooks.module.js"
cp "$TMP/htm/dist/htm.module.js" "$OUT/htm.module.js"
cp "$TMP/socket.io-client/dist/socket.io.min.js" "$OUT/socket.io.min.js"
cp "$TMP/preact/LICENSE" "$OUT/licenses/preact.LICENSE"
cp "$TMP/htm/LICENSE" "$OUT/licenses/htm.LICENSE"
cp "$TMP/socket.io-client/LICENSE" "$OUT/licenses/socket.io-client.LICENSE"
# Source-map comments point at files we do not ship.
for f in preact.module.js hooks.module.js htm.module.js; do
    sed -i '/^\/\/# sourceMappingURL=/d' "$OUT/$f"
    sed -i 's|//# sourceMappingURL=[^ ]*$||' "$OUT/$f"
done
if grep -l 'from *"preact' "$OUT"/*.module.js; then
    echo "vendor.sh: a bare import is left in the files above" >&2
    exit 1
fi

# Chart.js: its self-contained UMD build. Imported as a module for its side effect
# (it sets globalThis.Chart); js/dashboard/chartjs.js hands it on. It draws on a
# canvas and sizes it through CSSOM, which the strict CSP allows (no inline styles).
fetch chart.js "$CHARTJS"
cp "$TMP/chart.js/dist/chart.umd.min.js" "$OUT/chart.umd.min.js"
cp "$TMP/chart.js/LICENSE.md" "$OUT/licenses/chart.js.LICENSE"
sed -i 's|//# sourceMappingURL=[^ ]*$||' "$OUT/chart.umd.min.js"

cat > "$OUT/README.md" <<MD
# Vendored libraries of the agent console

Written by \`scripts/vendor.sh\` (\`make vendor\`) from npm; do not edit by hand, change the
pinned versions in that script and run it again.

| file | package | version | license | source file in the package |
|---|---|---|---|---|
| preact.module.js | preact | $PREACT | MIT (licenses/preact.LICENSE) | dist/preact.module.js |
| hooks.module.js | preact (hooks) | $PREACT | MIT (licenses/preact.LICENSE) | hooks/dist/hooks.module.js, its \`from "preact"\` rewritten to \`./preact.module.js\` |
| htm.module.js | htm | $HTM | Apache-2.0 (licenses/htm.LICENSE) | dist/htm.module.js |
| socket.io.min.js | socket.io-client | $SOCKETIO | MIT (licenses/socket.io-client.LICENSE) | dist/socket.io.min.js |
| chart.umd.min.js | chart.js | $CHARTJS | MIT (licenses/chart.js.LICENSE) | dist/chart.umd.min.js |

Source-map comments are removed (the maps are not shipped).
MD
echo "vendored preact $PREACT, htm $HTM, socket.io-client $SOCKETIO, chart.js $CHARTJS into $OUT"

# --- CodeMirror 6 (the Actions Dashboard's editors) -------------------------------------
# Many small ES packages, bundled once by esbuild into one ES module, codemirror.js. The
# exact versions of every package (esbuild too) are in scripts/codemirror/package-lock.json;
# change scripts/codemirror/package.json, run `npm install --package-lock-only` there,
# then this script. esbuild runs from the temporary directory and is never committed.
CM_SRC="$ROOT/scripts/codemirror"
CM_TMP="$TMP/codemirror-bundle"
mkdir -p "$CM_TMP"
cp "$CM_SRC/package.json" "$CM_SRC/package-lock.json" "$CM_SRC/entry.js" "$CM_TMP/"
(cd "$CM_TMP" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
(cd "$CM_TMP" && ./node_modules/.bin/esbuild entry.js --bundle --format=esm --minify \
    --legal-comments=eof --target=es2020 --metafile=meta.json --log-level=warning \
    --outfile="$OUT/codemirror.js")
# The packages that ended up in the bundle, each with its version and license file.
(cd "$CM_TMP" && node -e '
const fs = require("fs");
const meta = JSON.parse(fs.readFileSync("meta.json", "utf8"));
const names = new Set();
for (const file of Object.keys(meta.inputs)) {
  const m = file.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (m) names.add(m[1]);
}
for (const name of [...names].sort()) {
  const pkg = JSON.parse(fs.readFileSync(`node_modules/${name}/package.json`, "utf8"));
  const lic = fs.readdirSync(`node_modules/${name}`).find((f) => /^licen[cs]e/i.test(f));
  if (!lic) { console.error(`vendor.sh: ${name} has no license file`); process.exit(1); }
  console.log([name, pkg.version, pkg.license, lic].join("\t"));
}' > "$CM_TMP/bundled.tsv")
{
    echo
    echo "## codemirror.js: CodeMirror 6, bundled"
    echo
    echo "One ES module bundled by esbuild (minified, license comments kept at the end) from"
    echo "\`scripts/codemirror/entry.js\`, with the versions locked in"
    echo "\`scripts/codemirror/package-lock.json\`. Every package in the bundle:"
    echo
    echo "| package | version | license |"
    echo "|---|---|---|"
} >> "$OUT/README.md"
while IFS="$(printf '\t')" read -r name version license file; do
    safe=$(echo "$name" | sed 's|^@||; s|/|-|g')
    cp "$CM_TMP/node_modules/$name/$file" "$OUT/licenses/$safe.LICENSE"
    echo "| $name | $version | $license (licenses/$safe.LICENSE) |" >> "$OUT/README.md"
done < "$CM_TMP/bundled.tsv"
echo "vendored CodeMirror ($(wc -l < "$CM_TMP/bundled.tsv") packages) into $OUT/codemirror.js"
