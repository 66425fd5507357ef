"""Hand skeleton: joint order, template, kinematics."""
