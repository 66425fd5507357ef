"""Point the ROS 2 wheels' exported CMake include directories at this machine's Python and NumPy.

The ros-kilted-* message wheels were built in a container whose Python lived elsewhere; their
``export_*__rosidl_generator_pyExport.cmake`` files list that container's Python and NumPy
include directories, and CMake refuses imported targets with missing include directories.
Only entries that do not exist here and look like a Python or NumPy include directory are
replaced; running it again changes nothing.
"""

from __future__ import annotations

import os
import re
import sys
import sysconfig
from pathlib import Path

import numpy

_PROPERTY = re.compile(r'(INTERFACE_INCLUDE_DIRECTORIES\s+")([^"]*)(")')
_PYTHON_INCLUDE = re.compile(r"/include/python3\.\d+t?$")
_NUMPY_INCLUDE = re.compile(r"/site-packages/numpy/(_core|core)/include$")


def replacement(path: str, py_inc: str, np_inc: str) -> str | None:
    """The local directory for a missing build-machine include path, or None if unknown."""
    if _PYTHON_INCLUDE.search(path):
        return py_inc
    if _NUMPY_INCLUDE.search(path):
        return np_inc
    return None


def fix_text(text: str, py_inc: str, np_inc: str, unknown: set[str]) -> str:
    """Rewrite every INTERFACE_INCLUDE_DIRECTORIES list in one CMake file's text."""

    def fix(match: re.Match[str]) -> str:
        out = []
        for entry in match.group(2).split(";"):
            if entry.startswith("/") and not os.path.exists(entry):
                new = replacement(entry, py_inc, np_inc)
                if new is None:
                    unknown.add(entry)
                entry = new or entry
            out.append(entry)
        return match.group(1) + ";".join(out) + match.group(3)

    return _PROPERTY.sub(fix, text)


def main() -> int:
    prefix = Path(sys.prefix)
    py_inc = sysconfig.get_paths()["include"]
    np_inc = numpy.get_include()
    if not Path(py_inc, "Python.h").is_file():
        print(f"fix_cmake_paths: no Python.h in {py_inc}: install the Python headers", file=sys.stderr)
        return 1
    changed, unknown = 0, set()
    for path in sorted(prefix.glob("share/*/cmake/*.cmake")):
        text = path.read_text()
        if "INTERFACE_INCLUDE_DIRECTORIES" not in text:
            continue
        new = fix_text(text, py_inc, np_inc, unknown)
        if new != text:
            path.write_text(new)
            changed += 1
    print(f"fix_cmake_paths: rewrote {changed} file(s)")
    if unknown:
        print("fix_cmake_paths: include directories still missing:", *sorted(unknown), sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
