"""Errors that cross the torch boundary: raised where torch runs, caught where it must not be imported."""

from __future__ import annotations

import os


class CheckpointError(Exception):
    """A checkpoint file that is missing, unreadable or inconsistent; names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"checkpoint {self.path}: {problem}")
