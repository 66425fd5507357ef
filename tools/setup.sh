#!/usr/bin/env bash
# Set up everything gsdf needs, from nothing, in this repository; idempotent (a second run takes
# seconds). Called by ./run; safe to run by hand.
#
#   tools/setup.sh [--fresh] [--quiet]
#
# What it does:
#   1. a virtual environment .venv (CPython 3.11 for the ROS 2 wheels; with a sourced ROS 2
#      distro, that distro's Python with its packages visible);
#   2. pinned Python dependencies, torch from GSDF_TORCH (default torch==2.13.0+cpu, the CPU
#      build; pip fails rather than pull a CUDA build), and `pip install -e .` of gsdf_ros;
#   3. without a sourced ROS 2: ROS 2 Kilted from the ros-kilted-* PyPI wheels, with the wheel
#      builder's paths in their CMake exports rewritten to this machine's;
#   4. colcon build of the gsdf interfaces (and a tf2_msgs stand-in when no tf2_msgs exists)
#      into .ros_ws/;
#   5. env.sh, the one file to source: `source env.sh`.
#
# Environment: PYTHON (interpreter for the venv), GSDF_TORCH (torch requirement),
# GSDF_PIP_ARGS (extra pip arguments, e.g. an index for torch on a GPU machine).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
WS="$ROOT/.ros_ws"
ENV_FILE="$ROOT/env.sh"
FRESH=0
QUIET=0
for arg in "$@"; do
  case "$arg" in
    --fresh) FRESH=1 ;;
    --quiet) QUIET=1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

T0=$(date +%s)
say() { [ "$QUIET" = 1 ] || printf '[setup %3ds] %s\n' $(( $(date +%s) - T0 )) "$*"; }
die() { echo "setup.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------- which ROS
if [ -n "${ROS_DISTRO:-}" ] && [ "${GSDF_ROS_FROM_WHEELS:-0}" != 1 ] && [ -z "${_GSDF_WHEEL_ENV:-}" ]; then
  MODE=system
  PYTHON=${PYTHON:-python3}
  command -v colcon >/dev/null || die "ROS_DISTRO=$ROS_DISTRO is sourced but colcon is missing (apt install python3-colcon-common-extensions)"
else
  MODE=wheels
  PYTHON=${PYTHON:-python3.11}
fi
command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set PYTHON=...)"
"$PYTHON" - "$MODE" <<'EOF' || die "$PYTHON cannot build ROS interfaces (see above)"
import os, sys, sysconfig
mode = sys.argv[1]
if mode == "wheels" and sys.version_info[:2] != (3, 11):
    sys.exit(f"the ros-kilted-* wheels need CPython 3.11, {sys.executable} is {sys.version.split()[0]}")
inc = sysconfig.get_paths()["include"]
if not os.path.isfile(os.path.join(inc, "Python.h")):
    sys.exit(f"no Python.h in {inc}: install the Python development headers")
EOF
for tool in cmake g++ make; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt install cmake g++ make)"
done

# ---------------------------------------------------------------- venv
if [ "$FRESH" = 1 ]; then
  say "--fresh: removing .venv .ros_ws env.sh"
  rm -rf "$VENV" "$WS" "$ENV_FILE"
fi
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV ($MODE ROS, $("$PYTHON" --version))"
  if [ "$MODE" = system ]; then "$PYTHON" -m venv --system-site-packages "$VENV"; else "$PYTHON" -m venv "$VENV"; fi
fi
PY="$VENV/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# ---------------------------------------------------------------- Python packages
TORCH_REQ=${GSDF_TORCH:-torch==2.13.0+cpu}
REQ_FILES=("$ROOT/tools/requirements.txt")
PIP_ARGS=()
if [ "$MODE" = wheels ]; then
  REQ_FILES+=("$ROOT/tools/requirements-ros-wheels.txt")
  PIP_ARGS+=(-c "$ROOT/tools/constraints-kilted-cp311.txt")
fi
# re-run pip only when a requirement (or this script) changed
STAMP="$VENV/.gsdf-requirements"
WANT=$(cat "${REQ_FILES[@]}" "$ROOT/setup.cfg" "$0" | sha256sum | cut -c1-16)-$TORCH_REQ-$MODE
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  say "pip install (${REQ_FILES[*]##*/}, $TORCH_REQ)"
  set +e
  # shellcheck disable=SC2086
  "$PY" -m pip install -q "${PIP_ARGS[@]}" ${GSDF_PIP_ARGS:-} "$TORCH_REQ" \
    $(printf -- '-r %s ' "${REQ_FILES[@]}") 2>&1 \
    | grep -v -e 'is ignored: it is neither a file nor a directory' -e '^Requirement already satisfied'
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" = 0 ] || die "pip install failed (exit $rc)"
  "$PY" -m pip install -q --no-deps --no-build-isolation -e "$ROOT" 2>&1 \
    | grep -v 'is ignored: it is neither a file nor a directory' || true
  "$PY" -c "import gsdf_ros" || die "pip install -e . did not make gsdf_ros importable"
  if [ "$TORCH_REQ" = "torch==2.13.0+cpu" ]; then
    "$PY" -c "import torch, sys; sys.exit('a CUDA build of torch was installed' if torch.version.cuda else 0)" \
      || die "expected the CPU build of torch"
  fi
  if [ "$MODE" = wheels ]; then
    say "rewriting build-machine paths in the ROS wheels' CMake exports"
    "$PY" "$ROOT/tools/fix_cmake_paths.py"
  fi
  echo "$WANT" > "$STAMP"
else
  say "Python packages up to date"
fi

# ---------------------------------------------------------------- env.sh
# Written before the build so the build itself runs in exactly the environment users get.
ROS_SETUP=""
if [ "$MODE" = system ]; then
  for f in "/opt/ros/$ROS_DISTRO/setup.bash" "${AMENT_PREFIX_PATH%%:*}/setup.bash"; do
    [ -f "$f" ] && { ROS_SETUP=$f; break; }
  done
fi
cat > "$ENV_FILE.tmp" <<EOF
# gsdf environment (written by tools/setup.sh; do not edit). Use: source env.sh
if [ -n "$ROS_SETUP" ] && [ -f "$ROS_SETUP" ]; then source "$ROS_SETUP"; fi
source "$VENV/bin/activate"
if [ "$MODE" = wheels ]; then
  case ":\${AMENT_PREFIX_PATH:-}:" in *":$VENV:"*) ;; *) export AMENT_PREFIX_PATH="$VENV\${AMENT_PREFIX_PATH:+:\$AMENT_PREFIX_PATH}";; esac
  case ":\${CMAKE_PREFIX_PATH:-}:" in *":$VENV:"*) ;; *) export CMAKE_PREFIX_PATH="$VENV\${CMAKE_PREFIX_PATH:+:\$CMAKE_PREFIX_PATH}";; esac
  export ROS_VERSION=2 ROS_PYTHON_VERSION=3 ROS_DISTRO=kilted _GSDF_WHEEL_ENV=1
  export RMW_IMPLEMENTATION=\${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
fi
# DDS discovery stays on this machine unless the user asks otherwise (Kilted ignores ROS_LOCALHOST_ONLY).
export ROS_AUTOMATIC_DISCOVERY_RANGE=\${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
if [ -f "$WS/install/local_setup.bash" ]; then source "$WS/install/local_setup.bash"; fi
EOF
mv "$ENV_FILE.tmp" "$ENV_FILE"

# ---------------------------------------------------------------- interfaces
# The package is built through a link in the workspace: CMake refuses exported include
# directories (the venv's NumPy headers) that lie inside a package's source directory.
mkdir -p "$WS/src"
ln -sfn "$ROOT" "$WS/src/gsdf"
BASE_PATHS=("$WS/src/gsdf")
HAVE_TF2=$(set +u; source "$ENV_FILE"; python -c "import tf2_msgs.msg" 2>/dev/null && echo 1 || echo 0)
if [ -d "$WS/src/tf2_msgs" ] || [ "$HAVE_TF2" = 0 ]; then
  # the stand-in is ours whenever it was built before: keep building it so it stays current
  rm -rf "$WS/src/tf2_msgs"
  cp -r "$ROOT/tools/tf2_msgs_standin" "$WS/src/tf2_msgs"
  rm -f "$WS/src/tf2_msgs/COLCON_IGNORE"
  BASE_PATHS+=("$WS/src/tf2_msgs")
fi
# --symlink-install: the installed gsdf_ros files link to this source tree, so edits take effect
# without a rebuild (new files still need one: every ./run rebuilds). A workspace built by
# copying is started over once.
if [ -d "$WS/install" ] && [ ! -f "$WS/.symlink-install" ]; then rm -rf "$WS/build" "$WS/install"; fi
say "colcon build (${#BASE_PATHS[@]} package(s))"
(
  set +u
  source "$ENV_FILE"
  cd "$WS"
  colcon --log-base "$WS/log" build --base-paths "${BASE_PATHS[@]}" \
    --build-base "$WS/build" --install-base "$WS/install" --symlink-install \
    --event-handlers console_cohesion- summary- status- console_start_end- \
    --cmake-args -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release -Wno-dev \
    > "$WS/build.log" 2>&1 \
    || { tail -n 60 "$WS/build.log" >&2; exit 1; }
) || die "colcon build failed (log: $WS/build.log)"

# ---------------------------------------------------------------- smoke check
(
  set +u
  source "$ENV_FILE"
  python - <<'EOF'
import os
from gsdf.msg import CropFrame, HandObjectReconstruction  # noqa: F401
from tf2_msgs.msg import TFMessage  # noqa: F401
import rclpy  # noqa: F401
assert os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE"), "discovery range unset"
EOF
) || die "the built environment does not import gsdf.msg / tf2_msgs.msg / rclpy"
touch "$WS/.symlink-install"
say "ready: source env.sh"
