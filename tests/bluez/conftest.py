"""The VM tests (tests/bluez/vm) run only inside the BlueZ tier's VM.

`.ci/run` runs them through tests/bluez/run-tier after the ordinary suite. Elsewhere they
are not collected, rather than counted as skipped: no machine here has Bluetooth in its
kernel, so outside the VM they could prove nothing.
"""

import os

collect_ignore = [] if os.environ.get("PORTWATCH_BLUEZ_VM") == "1" else ["vm"]
