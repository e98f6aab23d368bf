#!/usr/bin/env bash
# Runs the Dockerfile's build and install steps outside Docker, for CI machines without a
# Docker engine (tests/test_deploy.py runs it), then checks what the image would run.
#
#   deploy/docker-build-steps.sh            PYTHON=python3.12 deploy/docker-build-steps.sh
#
# The steps are not copied here: they are read from the Dockerfile, so the two cannot drift.
# Each stage gets a root directory under a temp dir and a fresh virtualenv of $PYTHON standing
# in for the base image's interpreter (the image has Python 3.12; use that here to match it).
#   FROM          a new stage: root dir + a copy of a fresh venv made once per base image
#   ENV, ARG      exported to the stage's RUN steps; absolute paths re-rooted under the stage
#                 root (but not PATH, nor PIP_NO_CACHE_DIR: pip's cache only saves downloads)
#   WORKDIR       the RUN steps' working directory, under the stage root
#   COPY          from the source tree (honouring .dockerignore) or --from another stage's root
#   RUN           run with `sh -c` when the command starts with `python` or `alertd` (the build,
#                 install and smoke-test steps); other RUN steps need root or the image's OS
#                 (useradd, install -o) and are only listed. A skipped step mentioning pip is an
#                 error: every pip step must run here.
#   VOLUME        created under the final stage's root
# Then, with the final stage's venv first on PATH:
#   - `alertd --version` is alertd.__version__ of the source tree (pyproject.toml reads it
#     from there), imported from the installed wheel;
#   - `alertd validate` accepts the config the image ships at the path its CMD names (with
#     dummy values for the variables and secret files it needs);
#   - the HEALTHCHECK command is valid Python, and fails while nothing listens;
#   - if `unshare -rn` and `ip` are available (a private network namespace, so port 9464 is
#     free whatever else runs on this machine): ENTRYPOINT + CMD start the daemon with that
#     config, the HEALTHCHECK command passes against it, and SIGTERM stops it with status 0.
# Exits non-zero on any failure. KEEP_WORKDIR=1 keeps the temp dir for inspection.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKERFILE="${DOCKERFILE:-$REPO/Dockerfile}"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/alertd-docker-steps.XXXXXX")"
DAEMON_PID=""

cleanup() {
    if [[ -n "$DAEMON_PID" ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -KILL "$DAEMON_PID" 2>/dev/null || true
    fi
    if [[ "${KEEP_WORKDIR:-0}" == 1 ]]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

step() { printf '\n==> [%ss] %s\n' "$SECONDS" "$*"; }
fail() {
    printf 'docker-build-steps: FAILED: %s\n' "$*" >&2
    exit 1
}

step "Dockerfile steps ($DOCKERFILE) with $("$PYTHON" --version 2>&1), in $WORK"

# ---- the stages, read from the Dockerfile and run --------------------------------------------
# Writes $WORK/facts.sh: the final stage's root, venv and ENV, ENTRYPOINT, CMD, HEALTHCHECK,
# VOLUMEs.
"$PYTHON" - "$DOCKERFILE" "$REPO" "$WORK" "$PYTHON" <<'PY'
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

dockerfile, repo, work, python = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
RUNNABLE = ("python", "alertd")
NOT_APPLIED = {
    "PATH": "the stage's venv comes first on PATH",
    "PIP_NO_CACHE_DIR": "it keeps the image's layers small; here pip's cache saves downloads",
}


def fail(message):
    sys.exit(f"docker-build-steps: FAILED: {message}")


def instructions(text):
    """(line number, KEYWORD, arguments), continuation lines joined, comments dropped."""
    start, buf = 0, []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # blank and comment lines, also inside a continued instruction
        start = start or number
        if line.endswith("\\"):
            buf.append(line[:-1].strip())
            continue
        buf.append(line)
        keyword, _, rest = " ".join(buf).partition(" ")
        yield start, keyword.upper(), rest.strip()
        start, buf = 0, []
    if buf:
        fail("the Dockerfile ends inside a continued line")


def words(rest):
    return json.loads(rest) if rest.startswith("[") else shlex.split(rest)


def assignments(rest):
    tokens = shlex.split(rest)
    if all("=" in t for t in tokens):
        return dict(t.split("=", 1) for t in tokens)
    return {tokens[0]: " ".join(tokens[1:])}  # legacy `ENV KEY value`


def expand(text, env):
    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), m.group(0)), text
    )


def ignore_patterns():
    path = repo / ".dockerignore"
    if not path.exists():
        return []
    patterns = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            patterns.append((negated, re.compile(glob_regex(line.lstrip("!").strip("/")))))
    return patterns


def glob_regex(pattern):
    """Docker's patterns: `*` and `?` within one path element, `**` across elements."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            out, i = out + "[" + pattern[i + 1 : end].replace("!", "^", 1) + "]", end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


IGNORED = ignore_patterns()


def ignored(relative):
    """.dockerignore: a path is out if it or a parent matches; the last matching line wins."""
    parts = relative.split("/")
    verdict = False
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i])
        for negated, regex in IGNORED:
            if regex.fullmatch(prefix):
                verdict = not negated
    return verdict


def copy(source, target, from_context):
    """Docker COPY of one source: a directory's contents, or a file."""
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source)
            if from_context and ignored(path.relative_to(repo).as_posix()):
                continue
            if path.is_file():
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target / relative)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def ensure_venv(stage):
    """The stage's interpreter: a copy of a fresh venv made once per base image."""
    venv = stage["venv"]
    if venv.exists():
        return venv
    image = work / "images" / re.sub(r"[^\w.-]", "_", stage["image"])
    if not image.exists():
        print(f"    {python} -m venv: a clean interpreter for {stage['image']}", flush=True)
        subprocess.run([python, "-m", "venv", str(image)], check=True)
    shutil.copytree(image, venv, symlinks=True)
    return venv


stages, stage = {}, None
facts = {}
started = time.monotonic()
for number, keyword, rest in instructions(dockerfile.read_text()):
    where = f"[{time.monotonic() - started:.0f}s] Dockerfile:{number}"
    if keyword == "FROM":
        tokens = rest.split()
        name = tokens[2] if len(tokens) == 3 and tokens[1].upper() == "AS" else f"stage{len(stages)}"
        root, venv = work / "stages" / name, work / "venvs" / name
        root.mkdir(parents=True)
        print(f"--- {where}: FROM {rest}: root {root}", flush=True)
        stage = stages[name] = {"root": root, "venv": venv, "image": tokens[0], "env": {}}
        stage["workdir"] = "/"
        facts = {"FINAL_ROOT": str(root), "FINAL_VENV": str(venv), "FINAL_BASE": tokens[0]}
        continue
    if stage is None:
        continue  # ARG before the first FROM
    root, env = stage["root"], stage["env"]
    if keyword in ("ENV", "ARG"):
        if keyword == "ARG" and "=" not in rest:
            continue
        for key, value in assignments(rest).items():
            if key in NOT_APPLIED:
                print(f"--- {where}: {keyword} {key} not applied here: {NOT_APPLIED[key]}")
                continue
            env[key] = expand(value, env)
    elif keyword == "WORKDIR":
        stage["workdir"] = os.path.join(stage["workdir"], expand(rest, env))
        (root / stage["workdir"].lstrip("/")).mkdir(parents=True, exist_ok=True)
    elif keyword in ("COPY", "ADD"):
        tokens = [expand(t, env) for t in words(rest)]
        flags = [t for t in tokens if t.startswith("--")]
        paths = [t for t in tokens if not t.startswith("--")]
        sources, dest = paths[:-1], paths[-1]
        origin = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
        if origin and origin not in stages:
            fail(f"{where}: {keyword} --from={origin}: no such earlier stage")
        base = stages[origin]["root"] if origin else repo
        dest_path = root / os.path.join(stage["workdir"], dest).lstrip("/")
        print(f"--- {where}: {keyword} {rest}", flush=True)
        for source in sources:
            source_path = base / source.lstrip("/")
            if not source_path.exists():
                fail(f"{where}: {keyword} source {source_path} does not exist")
            if not origin and ignored(Path(source).as_posix().strip("/")):
                fail(f"{where}: {keyword} source {source} is excluded by .dockerignore")
            into_dir = dest.endswith("/") or len(sources) > 1 or source_path.is_dir()
            target = dest_path / source_path.name if into_dir and source_path.is_file() else dest_path
            copy(source_path, target, from_context=origin is None)
    elif keyword == "RUN":
        if rest.startswith("["):
            fail(f"{where}: exec-form RUN is not supported here; use the shell form")
        first = rest.split()[0]
        if first not in RUNNABLE:
            if re.search(r"\bpip\b", rest):
                fail(f"{where}: a pip step that this script would skip: start it with `python -m pip`")
            print(f"--- {where}: RUN {rest}\n    skipped: needs root or the image's OS")
            continue
        if any(p.startswith("/") for t in shlex.split(rest) for p in t.split("=")):
            fail(f"{where}: RUN {rest!r} uses a literal absolute path; take it from an ENV variable")
        rerooted = {k: str(root) + v if v.startswith("/") else v for k, v in env.items()}
        cwd = root / stage["workdir"].lstrip("/")
        print(f"--- {where}: RUN {rest}\n    in {cwd}", flush=True)
        venv = ensure_venv(stage)
        run_env = {
            **os.environ,
            **rerooted,
            "PATH": f"{venv}/bin:{os.environ['PATH']}",
            "VIRTUAL_ENV": str(venv),
        }
        result = subprocess.run(["sh", "-c", rest], cwd=cwd, env=run_env)
        if result.returncode != 0:
            fail(f"{where}: RUN {rest!r} exited {result.returncode}")
    elif keyword == "VOLUME":
        for volume in words(rest):
            (root / volume.lstrip("/")).mkdir(parents=True, exist_ok=True)
            facts.setdefault("VOLUMES", []).append(volume)
    elif keyword in ("ENTRYPOINT", "CMD"):
        facts[keyword] = words(rest)
    elif keyword == "HEALTHCHECK":
        tokens = rest.split(None)
        while tokens and tokens[0].startswith("--"):
            tokens.pop(0)
        if not tokens or tokens[0].upper() != "CMD":
            fail(f"{where}: HEALTHCHECK without CMD")
        facts["HEALTHCHECK"] = words(rest.split("CMD", 1)[1].strip())

for key in ("ENTRYPOINT", "CMD", "HEALTHCHECK"):
    if key not in facts:
        fail(f"the Dockerfile's final stage has no {key}")
ensure_venv(stage)
facts["FINAL_ENV"] = [
    f"{k}={stage['root']}{v}" if v.startswith("/") else f"{k}={v}" for k, v in stage["env"].items()
]
with open(work / "facts.sh", "w") as out:
    for key, value in facts.items():
        if isinstance(value, list):
            out.write(f"{key}=({' '.join(shlex.quote(v) for v in value)})\n")
        else:
            out.write(f"{key}={shlex.quote(value)}\n")
PY

# shellcheck source=/dev/null
source "$WORK/facts.sh"
# The runtime environment: the final stage's ENV (re-rooted), its venv first on PATH.
for assignment in "${FINAL_ENV[@]}"; do export "${assignment?}"; done
export PATH="$FINAL_VENV/bin:$PATH"
cd "$WORK"  # not the source tree: `python -c` must import the installed package

# A path the image would see, mapped into the final stage's root when it exists there.
reroot() {
    if [[ "$1" == /* && -e "$FINAL_ROOT$1" ]]; then printf '%s' "$FINAL_ROOT$1"; else printf '%s' "$1"; fi
}
RUN_ARGS=()
for arg in "${ENTRYPOINT[@]}" "${CMD[@]}"; do RUN_ARGS+=("$(reroot "$arg")"); done
CONFIG=""
for ((i = 0; i < ${#CMD[@]}; i++)); do
    if [[ "${CMD[$i]}" == -c || "${CMD[$i]}" == --config ]]; then CONFIG="${CMD[$((i + 1))]}"; fi
done
[[ -n "$CONFIG" ]] || fail "CMD (${CMD[*]}) names no config with -c"
[[ -f "$FINAL_ROOT$CONFIG" ]] || fail "the image has no file at $CONFIG, the config CMD names"
[[ "${ENTRYPOINT[0]}" == alertd ]] || fail "ENTRYPOINT is ${ENTRYPOINT[*]}, not alertd"
[[ -x "$FINAL_VENV/bin/alertd" ]] || fail "the wheel installed no alertd console script"

step "alertd --version"
expected="$(python -c 'import re, sys; print(re.search(r"__version__ = \"([^\"]+)\"", open(sys.argv[1]).read())[1])' "$REPO/alertd/__init__.py")"
version="$(alertd --version)"
echo "$version"
[[ "$version" == "alertd $expected" ]] || fail "alertd --version said '$version', expected 'alertd $expected'"
installed="$(python -c 'import alertd; print(alertd.__file__)')"
[[ "$installed" == "$FINAL_VENV"/* ]] || fail "alertd imported from $installed, not from the installed wheel"

# Dummy values for what the shipped config (deploy/config.container.yaml) needs: its ${VAR}s,
# its secret file, and the store's database moved to the final stage's volume.
mkdir -p "$FINAL_ROOT/run/secrets"
printf 'dummy-lobstr-key\n' >"$FINAL_ROOT/run/secrets/lobstr_api_key"
export BROWSER7_API_KEY=dummy-browser7-key
export NOTIFY_URL=json://127.0.0.1:9/alertd
export ALERTD_PROVIDERS__LOBSTR__API_KEY_FILE="$FINAL_ROOT/run/secrets/lobstr_api_key"
store="$(python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["store"])' "$FINAL_ROOT$CONFIG")"
[[ "$store" == sqlite:///* ]] || fail "store $store is not sqlite:///ABSOLUTE/PATH"
database="${store#sqlite://}"
export ALERTD_STORE="sqlite://$FINAL_ROOT$database"
[[ -d "$FINAL_ROOT$(dirname "$database")" ]] || fail "store $store is not in a VOLUME (${VOLUMES[*]:-none})"

step "alertd validate -c $CONFIG"
alertd validate -c "$FINAL_ROOT$CONFIG" || fail "alertd validate rejected the image's config"

step "HEALTHCHECK ${HEALTHCHECK[*]}"
[[ "${HEALTHCHECK[0]}" == python && "${HEALTHCHECK[1]}" == -c ]] || fail "HEALTHCHECK is not python -c"
python -c 'import sys; compile(sys.argv[1], "HEALTHCHECK", "exec")' "${HEALTHCHECK[2]}" ||
    fail "the HEALTHCHECK snippet is not valid Python"
echo "valid Python"

export HEALTHCHECK_SNIPPET="${HEALTHCHECK[2]}"
if unshare -rn true 2>/dev/null && command -v ip >/dev/null; then
    step "ENTRYPOINT + CMD in a private network namespace, HEALTHCHECK against it, SIGTERM"
    log="$WORK/daemon.log"
    # The namespace's shell exits with the check's status; the daemon is its child.
    set +e
    unshare -rn bash -s -- "$log" "${RUN_ARGS[@]}" <<'NS'
log="$1"; shift
ip link set lo up || exit 1
python -c "${HEALTHCHECK_SNIPPET}" 2>/dev/null && { echo "HEALTHCHECK passed with nothing listening"; exit 1; }
echo "HEALTHCHECK fails while nothing listens: ok"
"$@" 2>"$log" &
pid=$!
healthy=""
# Ready means every provider had its first poll, which comes within its jitter of start
# (10% of 5m here: up to 30 s) plus its timeout (10 s): wait up to 60 s, as Docker's
# start period and retries would.
deadline=$((SECONDS + 60))
while (( SECONDS < deadline )); do
    if python -c "${HEALTHCHECK_SNIPPET}" 2>/dev/null; then healthy=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
done
[[ -n "$healthy" ]] && echo "HEALTHCHECK passes against the running daemon: ok"
kill -TERM "$pid" 2>/dev/null
wait "$pid"
status=$?
echo "daemon exited $status after SIGTERM"
[[ -n "$healthy" && "$status" == 0 ]]
NS
    ns_status=$?
    set -e
    if [[ "$ns_status" != 0 ]]; then
        echo "--- daemon log:" >&2
        cat "$log" >&2 || true
        fail "the daemon did not start healthy and stop cleanly on SIGTERM"
    fi
    [[ -f "$FINAL_ROOT$database" ]] || fail "the daemon wrote no database at $database"
    echo "store written: $database"
else
    step "no private network namespace here (unshare -rn, ip): running HEALTHCHECK with nothing listening only"
    if python -c "$HEALTHCHECK_SNIPPET" 2>/dev/null; then
        fail "the HEALTHCHECK passed with nothing listening"
    fi
    echo "fails while nothing listens: ok"
fi

step "OK: the Dockerfile's steps build and install alertd; the image's config, CMD and HEALTHCHECK work"
