#!/usr/bin/env bash
# The wheel as users get it (pip or pipx): build it from the tracked files, check that it holds every
# tracked file of the package (code, models, styles, page files: whatever `git ls-files` lists, so a new
# data file that pyproject.toml forgets fails here), install it into a fresh venv, and run the installed
# command: `vcamstyle --version` and a `vcamstyle render` of a photo with the installed config template,
# styles and models, from outside the checkout.
#
#   scripts/check_wheel.sh [python]   # python: an interpreter whose environment has the dependencies
#                                     # (torch and the rest are reused from it, not downloaded again)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-$(command -v python3)}
start=$(date +%s)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# 1. Build from the tracked files only (a clean tree: no __pycache__, no local weights).
mkdir "$WORK/src"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$WORK/src"
# The build backend from $PY's environment when it has a recent enough setuptools, else pip fetches it.
isolation=--no-build-isolation
"$PY" -c 'import setuptools, sys; sys.exit(int(setuptools.__version__.split(".")[0]) < 77)' 2>/dev/null || isolation=
"$PY" -m pip wheel -q --no-deps $isolation -w "$WORK/dist" "$WORK/src" >/dev/null
WHEEL=$(ls "$WORK"/dist/vcamstyle-*.whl)
echo "check_wheel: built $(basename "$WHEEL") ($(du -k "$WHEEL" | cut -f1) KiB)"

# 2. Every tracked file of the package, the config template and the styles are in it.
git ls-files vcamstyle config >"$WORK/tracked"
"$PY" - "$WHEEL" "$WORK/tracked" <<'EOF'
import sys, zipfile
wheel, tracked = sys.argv[1], open(sys.argv[2]).read().split("\n")
names = set(zipfile.ZipFile(wheel).namelist())
data = next(n.split("/")[0] for n in names if ".data/" in n) if any(".data/" in n for n in names) else None
missing = []
for path in filter(None, tracked):
    if path.startswith("vcamstyle/"):
        want = path
    else:  # config/... is installed as data: <prefix>/share/vcamstyle/config/...
        want = f"{data}/data/share/vcamstyle/{path}" if data else f"(data)/share/vcamstyle/{path}"
    if want not in names:
        missing.append(path)
if missing:
    sys.exit("check_wheel: the wheel lacks these tracked files (add them to [tool.setuptools.package-data] or "
             "data-files in pyproject.toml):\n  " + "\n  ".join(missing))
print(f"check_wheel: the wheel holds all {len([t for t in tracked if t])} tracked files of vcamstyle/ and config/")
EOF

# 3. A fresh venv with the wheel; the dependencies come from $PY's environment through a .pth line (a .pth
#    in a .pth-added directory is not read, so an editable vcamstyle there cannot shadow the wheel).
"$PY" -m venv "$WORK/venv"
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
FRESH_SITE=$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$SITE" >"$FRESH_SITE/dependencies-from-ci.pth"
"$WORK/venv/bin/python" -m pip install -q --no-deps "$WHEEL"

# 4. Run it from outside the checkout, with empty XDG directories.
mkdir -p "$WORK/home"
cp docs/compare_astronaut.jpg "$WORK/home/photo.jpg"
cd "$WORK/home"
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" XDG_DATA_HOME="$WORK/home/.local/share" \
       XDG_STATE_HOME="$WORK/home/.local/state" XDG_RUNTIME_DIR="$WORK/home/run" PYTHONPATH=
mkdir -m 700 "$XDG_RUNTIME_DIR"
where=$("$WORK/venv/bin/python" -c 'import vcamstyle; print(vcamstyle.__file__)')
case "$where" in "$WORK/venv/"*) ;; *) echo "check_wheel: vcamstyle was imported from $where, not the wheel"; exit 1;; esac
"$WORK/venv/bin/vcamstyle" --version
"$WORK/venv/bin/vcamstyle" render photo.jpg styled.png
"$WORK/venv/bin/python" - <<'EOF'
import cv2
out = cv2.imread("styled.png")
assert out is not None and out.ndim == 3 and out.std() > 5, "the render wrote no picture"
print(f"check_wheel: rendered {out.shape[1]}x{out.shape[0]} with the installed template, styles and models")
EOF
echo "check_wheel: ok ($(( $(date +%s) - start )) s)"
