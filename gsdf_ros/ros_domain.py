"""Claim a ROS_DOMAIN_ID that no other run on this machine holds (tests, demos, soak runs).

Two runs on the same domain see each other's messages. Each claim is an exclusive ``flock`` on a
per-id lock file, held for as long as the returned object lives, so concurrent runs never share
an id and a crashed run frees its id automatically. Imports no ROS module.
"""

from __future__ import annotations

import fcntl
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import IO

# Domain ids whose DDS ports are safe on Linux are 0-101 and 215-232; 0 is everyone's default.
CLAIMABLE_IDS: tuple[int, ...] = tuple(range(1, 102)) + tuple(range(215, 233))
DEFAULT_LOCK_DIR = Path(os.environ.get("GSDF_DOMAIN_LOCK_DIR", "/tmp/gsdf-ros-domains"))


@dataclass
class DomainClaim:
    """A claimed domain id; the claim lasts until :meth:`release` or process exit."""

    domain_id: int
    _lock: IO[str]

    def release(self) -> None:
        """Give the id back."""
        if not self._lock.closed:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()


def claim_domain_id(lock_dir: Path = DEFAULT_LOCK_DIR, seed: int | None = None) -> DomainClaim:
    """Claim a free domain id, trying the claimable ids in a random order."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    ids = list(CLAIMABLE_IDS)
    random.Random(seed).shuffle(ids)
    for domain_id in ids:
        handle = open(lock_dir / f"{domain_id}.lock", "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        return DomainClaim(domain_id, handle)
    raise RuntimeError(f"every ROS domain id in {lock_dir} is claimed by another run")


def isolated_ros_environment(claim: DomainClaim, environ: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment on the claimed domain with DDS discovery kept on this host."""
    env = dict(os.environ if environ is None else environ)
    env["ROS_DOMAIN_ID"] = str(claim.domain_id)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.pop("ROS_STATIC_PEERS", None)
    return env
