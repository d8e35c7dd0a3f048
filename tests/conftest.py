"""Settings for the whole suite."""

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

# Speed is measured in benchmarks/, not timed in tests: Hypothesis's per-example deadline
# (200 ms by default) is a wall-clock timing that a loaded two-core CI machine trips with
# no fault in the code (seen with cold FHIR models at load average 7). Examples still run;
# only the timing is dropped.
settings.register_profile("portwatch", deadline=None)
settings.load_profile("portwatch")


@pytest.fixture(autouse=True)
def _credentials_directory_as_it_was() -> Iterator[None]:
    """`portwatch.cli.main.main()` points ``$CREDENTIALS_DIRECTORY`` at the credentials
    beside the settings file, as a command's process should; a test that calls ``main()``
    in this process must not hand that to the tests after it."""
    before = os.environ.get("CREDENTIALS_DIRECTORY")
    yield
    if before is None:
        os.environ.pop("CREDENTIALS_DIRECTORY", None)
    else:
        os.environ["CREDENTIALS_DIRECTORY"] = before
