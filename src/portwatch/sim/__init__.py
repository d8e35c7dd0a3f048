"""The simulated world: a virtual radio and thermometers, the demo's course, a reference inbox."""
