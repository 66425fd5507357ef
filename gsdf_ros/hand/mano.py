"""Optional: the template joints of a user-supplied ``MANO_RIGHT.pkl``, read without chumpy.

MANO is licence-restricted and not shipped. Its pickle stores some arrays as chumpy objects; the
unpickler below maps every chumpy class to a small stand-in that keeps the pickled state, from
which the plain array is extracted. The 16 MANO joints are J_regressor · v_template; the five
fingertips are mesh vertices; the result is reordered to the package's (ObMan) joint order.
Unpickling can run code: load only a MANO file you obtained from the official source.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from gsdf_ros.hand.skeleton import HandTemplate

MANO_NUM_VERTICES = 778
MANO_TIP_VERTICES: tuple[int, ...] = (745, 317, 444, 556, 673)
"""Fingertip vertices of the right MANO mesh: thumb, index, middle, ring, little."""

MANO_TO_PACKAGE_ORDER: tuple[int, ...] = (0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20)
"""Package joint i is MANO-with-tips joint MANO_TO_PACKAGE_ORDER[i]. MANO's own order is wrist,
index 1-3, middle 1-3, little 1-3, ring 1-3, thumb 1-3; the tips 16-20 are appended thumb→little."""


class ChumpyStandIn:
    """Takes the place of any chumpy class while unpickling; keeps whatever state it is given."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.state: dict[str, Any] = dict(kwargs)

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots) form
            state = {**(state[0] or {}), **(state[1] or {})}
        self.state = dict(state) if isinstance(state, dict) else {"x": state}

    def to_array(self) -> np.ndarray:
        """The numeric value: chumpy keeps it in ``x`` (``r`` or a first argument as fallbacks)."""
        for key in ("x", "r", "_x"):
            if key in self.state:
                return as_array(self.state[key])
        if self.args:
            return as_array(self.args[0])
        raise ValueError(f"cannot find an array in a chumpy object with keys {sorted(self.state)}")


class _NoChumpyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "chumpy" or module.startswith("chumpy."):
            return ChumpyStandIn
        return super().find_class(module, name)


def as_array(value: Any) -> np.ndarray:
    """A dense float64 array from a numpy array, a chumpy stand-in or a scipy sparse matrix."""
    if isinstance(value, ChumpyStandIn):
        return value.to_array()
    if hasattr(value, "toarray"):
        return np.asarray(value.toarray(), dtype=np.float64)
    return np.asarray(value, dtype=np.float64)


def load_mano_pickle(path: str | Path) -> dict[str, Any]:
    """The MANO model dictionary, chumpy objects replaced by stand-ins (Python 2 pickles read as latin1)."""
    with open(path, "rb") as fh:
        data = _NoChumpyUnpickler(fh, encoding="latin1").load()
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a MANO model dictionary, got {type(data).__name__}")
    return data


def mano_template_joints(model: dict[str, Any]) -> np.ndarray:
    """The 21 rest joints (package order, metres) of a MANO model dictionary."""
    missing = {"v_template", "J_regressor"} - model.keys()
    if missing:
        raise ValueError(f"MANO model lacks {sorted(missing)}")
    vertices = as_array(model["v_template"])
    regressor = as_array(model["J_regressor"])
    if vertices.shape != (MANO_NUM_VERTICES, 3):
        raise ValueError(f"v_template must be ({MANO_NUM_VERTICES}, 3), got {vertices.shape}")
    if regressor.shape != (16, MANO_NUM_VERTICES):
        raise ValueError(f"J_regressor must be (16, {MANO_NUM_VERTICES}), got {regressor.shape}")
    joints = np.concatenate([regressor @ vertices, vertices[list(MANO_TIP_VERTICES)]])
    return joints[list(MANO_TO_PACKAGE_ORDER)]


def load_mano_template(path: str | Path) -> HandTemplate:
    """The hand template of a ``MANO_RIGHT.pkl`` (rest pose, mean shape), wrist at the origin."""
    return HandTemplate(mano_template_joints(load_mano_pickle(path)))
