"""The 21-joint hand layout shared by ObMan, DexYCB and every module of this package."""

from __future__ import annotations

NUM_JOINTS = 21
NUM_BONE_FRAMES = 16

FINGER_NAMES: tuple[str, ...] = ("thumb", "index", "middle", "ring", "little")
_THUMB_LEVELS = ("mcp", "pip", "dip", "tip")
_FINGER_LEVELS = ("mcp", "pip", "dip", "tip")

JOINT_NAMES: tuple[str, ...] = ("wrist",) + tuple(
    f"{finger}_{level}"
    for finger in FINGER_NAMES
    for level in (_THUMB_LEVELS if finger == "thumb" else _FINGER_LEVELS)
)
"""Joint order: 0 wrist; 1-4 thumb (MCP, PIP, DIP, tip); 5-8 index; 9-12 middle; 13-16 ring; 17-20 little."""

FINGER_JOINTS: tuple[tuple[int, int, int, int], ...] = tuple(
    (1 + 4 * f, 2 + 4 * f, 3 + 4 * f, 4 + 4 * f) for f in range(5)
)
"""Per finger, its four joint indices from base to tip."""

PARENTS: tuple[int, ...] = (-1,) + tuple(
    0 if level == 0 else 1 + 4 * f + level - 1 for f in range(5) for level in range(4)
)
"""Parent joint of each joint (-1 for the wrist); each finger's base hangs off the wrist."""

BONE_FRAME_JOINTS: tuple[int, ...] = (0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, 17, 18, 19)
"""The joints that carry one of the 16 bone frames: wrist, then thumb1-3, index1-3, middle1-3,
ring1-3, little1-3 (levels 1-3 are MCP, PIP, DIP); fingertips get no frame."""

TIP_JOINTS: tuple[int, ...] = (4, 8, 12, 16, 20)
MCP_JOINTS: tuple[int, ...] = (1, 5, 9, 13, 17)

BONES: tuple[tuple[int, int], ...] = tuple((PARENTS[j], j) for j in range(1, NUM_JOINTS))
"""The 20 (parent, child) joint pairs."""


def joint_index(name: str) -> int:
    """Index of a joint by its name, e.g. ``"index_pip"`` -> 6."""
    try:
        return JOINT_NAMES.index(name)
    except ValueError:
        raise KeyError(f"unknown joint {name!r}; known: {', '.join(JOINT_NAMES)}") from None


FINGER_FRAMES: tuple[tuple[int, int, int], ...] = tuple((1 + 3 * f, 2 + 3 * f, 3 + 3 * f) for f in range(5))
"""Per finger, the indices (into the 16 bone frames) of its three frames, base to distal."""

FRAME_OF_JOINT: tuple[int, ...] = tuple(
    BONE_FRAME_JOINTS.index(j) if j in BONE_FRAME_JOINTS else -1 for j in range(NUM_JOINTS)
)
"""Bone-frame index carried by each joint (-1 for the fingertips)."""

PARENT_FRAMES: tuple[int, ...] = (-1,) + tuple(
    FRAME_OF_JOINT[PARENTS[BONE_FRAME_JOINTS[k]]] for k in range(1, NUM_BONE_FRAMES)
)
"""Parent frame of each bone frame (-1 for the wrist frame)."""
