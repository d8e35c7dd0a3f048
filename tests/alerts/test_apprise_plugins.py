"""Only the Apprise module a URL needs is loaded (issue 19, the Pi's memory of issue 20).

Apprise's own lookup imports all of its ~190 services (+23 MiB peak in the daemon); for
the schemes in ``notify_url.PLUGINS`` portwatch imports the one module and builds the
service as ``Apprise.instantiate`` does. These tests hold that table to Apprise's own
choice (an upgrade that moves a service fails here) and measure what a fresh process
imports.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from portwatch.alerts.notify_url import PLUGINS, build_apprise, plugin_class

URLS = (
    "mailtos://carer:pw@smtp.mail.test?from=pi@mail.test&to=carer@mail.test",
    "mailto://127.0.0.1:2525?from=pi@mail.test&to=carer@mail.test&mode=insecure",
    "tgram://123456789:AAHq2-bot-token/987654321",
    "pover://userkey@apptoken",
    "ntfys://ntfy.sh/portwatch-topic",
    "json://127.0.0.1:8000/path",
    "twilio://AC1234567890abcdef1234567890abcd:token1234567890abcdef1234567890ab@15551230000/15557654321",
)


@pytest.mark.parametrize("scheme", sorted(PLUGINS))
def test_each_scheme_in_the_table_is_the_class_apprise_itself_picks(scheme: str) -> None:
    from apprise.plugins import N_MGR

    assert plugin_class(scheme) is N_MGR[scheme]


@pytest.mark.parametrize("url", URLS)
def test_service_built_from_one_module_equals_apprise_own_when_url_is_known(url: str) -> None:
    import apprise

    ours = build_apprise(url)
    theirs = apprise.Apprise.instantiate(url)
    assert ours is not None
    assert theirs is not None
    assert type(ours) is type(theirs)
    assert ours.url(privacy=False) == theirs.url(privacy=False)


def test_unusable_url_of_a_known_scheme_builds_nothing_as_apprise_does() -> None:
    assert build_apprise("tgram://") is None
    assert build_apprise("mailto://") is None


_CHILD = """
import json, re, sys
from portwatch.alerts.endpoints import check_notify_url
from portwatch.alerts.notify_url import build_apprise, describe_notify_url
url = sys.argv[1]
check_notify_url(url, "the URL")
service = build_apprise(url)
print(json.dumps({
    "built": service is not None,
    "described": describe_notify_url(url),
    "modules": sorted(m for m in sys.modules if m.startswith("apprise.plugins.")),
}))
"""


def _fresh(url: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, url], capture_output=True, text=True, timeout=60, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_fresh_process_imports_only_the_mail_plugin_when_url_is_email() -> None:
    result = _fresh(URLS[0])
    assert result["built"] is True
    assert result["described"] == "E-Mail through Apprise (mailtos://)"
    modules = result["modules"]
    assert isinstance(modules, list)
    assert all(m.startswith(("apprise.plugins.email", "apprise.plugins.base")) for m in modules)
    assert len(modules) < 10  # Apprise's own lookup: 218


def test_fresh_process_loads_all_of_apprise_for_a_scheme_not_in_the_table() -> None:
    """A service the table does not name still works, at the full cost."""
    url = "rockets://user:password@chat.mail.test/#channel"
    assert url.partition("://")[0] not in PLUGINS
    result = _fresh(url)
    assert result["built"] is True
    modules = result["modules"]
    assert isinstance(modules, list)
    assert len(modules) > 150
