"""Hand skeleton: joint order (`joints`), template (`skeleton`), forward and inverse kinematics
(`kinematics`, `ik`), articulation limits (`limits`) and the optional MANO template (`mano`).

Submodules are imported explicitly so that the joint layout stays importable without torch."""
