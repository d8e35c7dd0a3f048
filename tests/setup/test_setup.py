"""`portwatch setup` (issue 19) as a separate process into a temporary root, then the settings
it wrote checked by `portwatch config check` and `portwatch doctor --no-send` as separate
processes too, with systemd's variables pointing where the unit would point them.

The virtual radio stands in for the Pi's adapter (its demo thermometers); the clock, the
files, the modes and the commands are real.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portwatch.clock import SystemClock
from portwatch.log.store import Store
from portwatch.web.login import CodeStore, Redeemed

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
RUN_TIMEOUT_S = 90.0  # a scan of 2 s on the virtual radio, under load
SPOT = "D0:00:00:00:00:01"  # the demo set's spot thermometer


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PORTWATCH_") and k not in ("CREDENTIALS_DIRECTORY", "STATE_DIRECTORY")
    }
    return {**env, **extra}


def portwatch(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portwatch", *args],
        capture_output=True,
        text=True,
        env=env or _env(),
        input=stdin,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


FIRST = (
    "--patient", "Patient/4711",
    "--timezone", "Europe/Berlin",
    "--clinic-url", "https://clinic.test/portwatch/alerts",
    "--clinic-recipient", "Organization/clinic-7",
    "--web-address", "127.0.0.1:8470",
    "--virtual", "--thermometer", SPOT, "--seconds", "2",
    "--no-send", "--no-enable",
)  # fmt: skip


class Root:
    """A root prepared by setup: where each file is, and systemd's variables for it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.path = base / "root"
        self.settings = self.path / "etc/portwatch/portwatch.toml"
        self.credentials = self.path / "etc/portwatch/credentials"
        self.state = self.path / "var/lib/portwatch"
        self.secret_file = base / "clinic-secret.txt"
        self.secret_file.write_text(SECRET + "\n")

    def setup(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        common = ["--root", str(self.path), "--qr-dir", str(self.base / "qr")]
        return portwatch("setup", *common, *args, stdin=stdin)

    def systemd_env(self) -> dict[str, str]:
        return _env(CREDENTIALS_DIRECTORY=str(self.credentials), STATE_DIRECTORY=str(self.state))


@pytest.fixture
def root(tmp_path: Path) -> Root:
    return Root(tmp_path)


@pytest.fixture
def configured(root: Root) -> Root:
    done = root.setup("--non-interactive", *FIRST, "--clinic-secret-file", str(root.secret_file))
    assert done.returncode == 0, done.stderr
    return root


def test_setup_writes_settings_that_pass_config_check_and_doctor_when_non_interactive(
    configured: Root,
) -> None:
    env = configured.systemd_env()
    check = portwatch("config", "check", "--config", str(configured.settings), env=env)
    assert check.returncode == 0, check.stderr
    assert "Patient/4711" in check.stdout

    doctor = portwatch("doctor", "--no-send", "--config", str(configured.settings), env=env)
    lines = doctor.stdout.splitlines()
    for name in ("settings", "state directory", "log", "free disk", "bluetooth adapter"):
        assert any(line.startswith(f"PASS {name}:") for line in lines), doctor.stdout
    assert f"PASS pinned thermometer: {SPOT} (Spot HT)" in lines
    # Only what needs the running service may fail before it has run: no readings yet.
    failed = [line.split(":")[0] for line in lines if line.startswith("FAIL")]
    assert set(failed) <= {"FAIL thermometer", "FAIL clock"}
    assert doctor.returncode in (0, 1)  # never 2: the settings are good


def test_setup_writes_files_with_owner_only_secrets_and_public_settings(configured: Root) -> None:
    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(configured.settings) == 0o644
    assert mode(configured.credentials) == 0o700
    assert mode(configured.credentials / "clinic-secret") == 0o600
    assert mode(configured.credentials / "web-token") == 0o600
    assert mode(configured.state) == 0o700
    assert (configured.credentials / "clinic-secret").read_text().strip() == SECRET
    token = (configured.credentials / "web-token").read_text().strip()
    assert len(token) >= 40
    text = configured.settings.read_text()
    assert token not in text
    assert SECRET not in text
    settings = tomllib.loads(text)
    topic = settings["notify"]["caregiver_url"]
    assert topic.startswith("https://ntfy.sh/portwatch-")
    assert "CHANGE-ME" not in topic
    assert len(topic) >= len("https://ntfy.sh/portwatch-") + 22  # 128 random bits
    assert settings["bluetooth"]["address"] == SPOT
    assert (configured.state / "pinned.json").exists()


def test_setup_gives_each_install_its_own_push_topic_and_token(tmp_path: Path) -> None:
    topics, tokens = set(), set()
    for n in range(2):
        root = Root(tmp_path / str(n))
        done = root.setup(
            "--non-interactive", *FIRST, "--clinic-secret-file", str(root.secret_file),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        topics.add(tomllib.loads(root.settings.read_text())["notify"]["caregiver_url"])
        tokens.add((root.credentials / "web-token").read_text())
    assert len(topics) == 2
    assert len(tokens) == 2


def test_setup_prints_one_time_link_that_the_page_takes_once(configured: Root) -> None:
    """The link carries a code from the state directory, never the token; QR files exist."""
    again = configured.setup("--non-interactive", "--skip-pair", "--no-send", "--no-enable")
    assert again.returncode == 0, again.stderr
    link = next(line for line in again.stdout.splitlines() if "/login?code=" in line)
    assert link.startswith("http://127.0.0.1:8470/login?code=")
    token = (configured.credentials / "web-token").read_text().strip()
    assert token not in again.stdout
    code = link.split("code=", 1)[1]
    codes = CodeStore(configured.state)
    now = SystemClock().now()
    assert codes.redeem(code, now) is Redeemed.OK
    assert codes.redeem(code, now) is Redeemed.USED
    assert "█" in again.stdout  # the QR code in the terminal
    for kind in ("svg", "png"):
        assert _decoded(configured.base / f"qr/portwatch-phone-link.{kind}") == link


def _decoded(image: Path) -> str:
    """What a QR reader reads in ``image`` (zbarimg: the system edge, from tests/system-deps)."""
    if image.suffix == ".svg":
        assert image.read_text().startswith("<?xml")
        return _decoded(image.with_suffix(".png"))  # zbarimg reads no SVG; the same code
    zbarimg = shutil.which("zbarimg")
    assert zbarimg is not None, "zbarimg missing: tests/system-deps installs zbar-tools"
    read = subprocess.run(
        [zbarimg, "--quiet", "--raw", str(image)], capture_output=True, text=True, check=True
    )
    return read.stdout.strip()


def test_setup_rerun_changes_only_what_is_flagged_and_keeps_log_and_secrets(
    configured: Root,
) -> None:
    before = configured.settings.read_text()
    secrets_before = {p.name: p.read_bytes() for p in configured.credentials.iterdir()}
    pin_before = (configured.state / "pinned.json").read_bytes()
    with Store.open(configured.state / "portwatch.db") as store:
        store.add_note(
            datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 1, 1, tzinfo=UTC), "kept"
        )
    log_before = (configured.state / "portwatch.db").read_bytes()

    again = configured.setup(
        "--non-interactive", "--unit", "F", "--skip-pair", "--no-send", "--no-enable"
    )
    assert again.returncode == 0, again.stderr
    after = configured.settings.read_text()
    changed = [
        (a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b
    ]
    assert changed == [('unit = "C"', 'unit = "F"')]
    assert {p.name: p.read_bytes() for p in configured.credentials.iterdir()} == secrets_before
    assert (configured.state / "pinned.json").read_bytes() == pin_before
    assert (configured.state / "portwatch.db").read_bytes() == log_before


def test_setup_refuses_example_placeholders_naming_the_flag_and_writes_nothing(
    root: Root,
) -> None:
    flags = list(FIRST)
    flags[flags.index("--clinic-url") + 1] = "https://clinic.example.org/portwatch/alerts"
    done = root.setup("--non-interactive", *flags, "--clinic-secret-file", str(root.secret_file))
    assert done.returncode == 2
    assert "--clinic-url" in done.stderr
    assert "example.org" in done.stderr
    assert not root.settings.exists()


def test_setup_names_missing_answer_when_first_run_lacks_it(root: Root) -> None:
    flags = list(FIRST)
    del flags[flags.index("--patient") : flags.index("--patient") + 2]
    done = root.setup("--non-interactive", *flags, "--clinic-secret-file", str(root.secret_file))
    assert done.returncode == 2
    assert "--patient is needed on a first setup" in done.stderr
    assert not root.settings.exists()


def test_setup_refuses_bad_clinic_secret_when_file_holds_none(root: Root) -> None:
    root.secret_file.write_text("not-a-secret\n")
    done = root.setup("--non-interactive", *FIRST, "--clinic-secret-file", str(root.secret_file))
    assert done.returncode == 2
    assert "--clinic-secret-file" in done.stderr
    assert not root.settings.exists()


def test_setup_asks_again_when_answer_unreadable_then_writes_answers(root: Root) -> None:
    """Interactive through a pipe: each prompt re-asks on a bad answer; Enter takes defaults."""
    answers = "\n".join(
        [
            "4711",  # the patient: "Patient/" is added
            "Mars/Olympus",  # not a zone: asked again
            "America/Chicago",
            "",  # placement: now
            "http://clinic.test/alerts",  # plain http off loopback: asked again
            "https://clinic.test/alerts",
            "Organization/c9",
            "",  # json
            "",  # a new private topic
            "",  # F, the default in America/
            "local",
            SECRET,
            "",  # the strongest thermometer
        ]
    )
    done = root.setup(
        "--virtual", "--seconds", "2", "--no-send", "--no-enable", stdin=answers + "\n"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is not a time zone" in done.stdout
    assert "must use https" in done.stdout
    # Caregivers who do not use ntfy are told how to get e-mail instead (issue 19).
    assert "For e-mail instead, give mailtos://USER:PASSWORD@SMTP-SERVER?to=ADDRESS" in (
        done.stdout
    )
    settings = tomllib.loads(root.settings.read_text())
    assert settings["patient"]["reference"] == "Patient/4711"
    assert settings["patient"]["timezone"] == "America/Chicago"
    assert settings["display"]["unit"] == "F"
    assert settings["web"]["address"] == "127.0.0.1:8470"
    assert settings["bluetooth"]["address"].startswith("D0:00:00:00:00:0")


def test_web_link_command_makes_a_new_code_in_the_configured_state_directory(
    configured: Root,
) -> None:
    env = configured.systemd_env()
    done = portwatch("web", "link", "--config", str(configured.settings), "--valid", "10m", env=env)
    assert done.returncode == 0, done.stderr
    link = next(line for line in done.stdout.splitlines() if "/login?code=" in line)
    assert CodeStore(configured.state).redeem(link.split("code=")[1], SystemClock().now()) is (
        Redeemed.OK
    )


def test_setup_interactive_rerun_keeps_every_value_when_enter_is_pressed(
    configured: Root,
) -> None:
    """Enter keeps the current value, even one the questions would no longer take as typed
    (a placement 90 days ago); nothing in the file changes, not even a comment."""
    from portwatch.setup.tomledit import set_values

    old = datetime(2026, 9, 1, 8, 30, tzinfo=UTC)
    configured.settings.write_text(
        set_values(configured.settings.read_text(), {("patient", "placement"): old})
        + "# a note of mine\n"
    )
    before = configured.settings.read_bytes()
    again = configured.setup("--skip-pair", "--no-send", "--no-enable", stdin="\n" * 10)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "(changed: nothing)" in again.stdout
    assert configured.settings.read_bytes() == before


def _inbox(base: Path, port: int) -> subprocess.Popen[bytes]:
    """`portwatch inbox` (the reference clinic) in its own process, listening on ``port``."""
    secret = base / "inbox-secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    command = [sys.executable, "-m", "portwatch", "inbox", "--port", str(port),
               "--secret-file", str(secret), "--db", str(base / "inbox.db")]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(1200):  # waits for the process to listen (at most a minute), not for time
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
    process.kill()
    raise AssertionError("portwatch inbox did not listen")


def test_commands_run_by_hand_after_setup_find_the_secret_setup_wrote(root: Root) -> None:
    """A person who just ran setup runs `config check`, `doctor` and `alerts test` with no
    systemd variables: each finds the clinic secret in credentials/ beside the settings, as
    the unit does, and the test message reaches the clinic. Before, each said "no clinic
    secret" of the secret setup had just written, and `alerts test` demanded --url."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _inbox(root.base, port)
    try:
        flags = [*FIRST, "--clinic-url", f"http://127.0.0.1:{port}/webhook"]
        secret = ("--clinic-secret-file", str(root.secret_file))
        done = root.setup("--non-interactive", *flags, *secret)
        assert done.returncode == 0, done.stdout + done.stderr
        config = str(root.settings)
        check = portwatch("config", "check", "--config", config)
        assert check.returncode == 0, check.stdout + check.stderr
        doctor = portwatch("doctor", "--no-send", "--config", config)
        assert any(line.startswith("PASS settings:") for line in doctor.stdout.splitlines()), (
            doctor.stdout
        )
        sent = portwatch("alerts", "test", "--config", config)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert "HTTP 200" in sent.stdout
        assert SECRET not in sent.stdout + sent.stderr + doctor.stdout + check.stdout
    finally:
        inbox.terminate()
        inbox.communicate(timeout=30)
    listed = portwatch("alerts", "test")  # no settings file, no flags: says what to give
    assert listed.returncode == 2
    assert "no clinic is configured" in listed.stdout


MAIL_PASSWORD = "Pw-4kz9-never-shown"
MAIL_URL = f"mailtos://carer:{MAIL_PASSWORD}@smtp.mail.test?from=pi@mail.test&to=carer@mail.test"


def test_setup_keeps_url_with_password_in_credential_file_not_settings(root: Root) -> None:
    """An e-mail URL's password goes to credentials/caregiver-url (0600), never to the
    settings (0644); a re-run keeps it there; the URL never shows in any output."""
    done = root.setup(
        "--non-interactive", *FIRST, "--clinic-secret-file", str(root.secret_file),
        "--caregiver-url", MAIL_URL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    credential = root.credentials / "caregiver-url"
    assert stat.S_IMODE(credential.stat().st_mode) == 0o600
    assert credential.read_text().strip() == MAIL_URL
    assert "caregiver_url" not in tomllib.loads(root.settings.read_text())["notify"]
    assert MAIL_PASSWORD not in root.settings.read_text()
    check = portwatch("config", "check", "--config", str(root.settings), env=root.systemd_env())
    assert check.returncode == 0, check.stderr
    again = root.setup(
        "--non-interactive", "--unit", "F", "--skip-pair", "--no-send", "--no-enable"
    )
    assert again.returncode == 0, again.stderr
    assert credential.read_text().strip() == MAIL_URL  # not replaced by a new push topic
    assert "caregiver_url" not in tomllib.loads(root.settings.read_text())["notify"]
    asked = root.setup("--skip-pair", "--no-send", "--no-enable", stdin="\n" * 10)
    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert "[the URL kept in credentials/caregiver-url]" in asked.stdout  # Enter keeps it
    assert credential.read_text().strip() == MAIL_URL
    outputs = (done, check, again, asked)
    assert not [p for p in outputs if MAIL_PASSWORD in p.stdout + p.stderr]
    # Back to an ntfy topic: it goes to the settings and the credential file is removed.
    topic = "https://ntfy.sh/portwatch-carer-abcdefghijklmnopqrstuv"
    back = root.setup(
        "--non-interactive", "--caregiver-url", topic, "--skip-pair", "--no-send", "--no-enable"
    )
    assert back.returncode == 0, back.stderr
    assert tomllib.loads(root.settings.read_text())["notify"]["caregiver_url"] == topic
    assert not credential.exists()
