"""Settings for the whole suite."""

from hypothesis import settings

# Speed is measured in benchmarks/, not timed in tests: Hypothesis's per-example deadline
# (200 ms by default) is a wall-clock timing that a loaded two-core CI machine trips with
# no fault in the code (seen with cold FHIR models at load average 7). Examples still run;
# only the timing is dropped.
settings.register_profile("portwatch", deadline=None)
settings.load_profile("portwatch")
