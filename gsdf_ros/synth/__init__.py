"""SynthHO: procedural hand-object scenes with exact ground truth.

``sdf_ops`` (SDF primitives and operations), ``objects`` (object families), ``hand_shape`` (hand
surface from 21 joints), ``appearance`` (materials, lights, backgrounds), ``render`` (CPU sphere
tracer) and ``sdf_samples`` (gSDF-layout SDF samples).
"""
