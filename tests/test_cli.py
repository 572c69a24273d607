"""The `organiser` command, run as a person would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BALLOT_KEY

pytestmark = pytest.mark.slow  # each test runs `organiser` in a process

ORGANISER = str(Path(sys.executable).parent / "organiser")


def organiser(
    *args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ORGANISER_")}
    return subprocess.run(
        [ORGANISER, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=base | (env or {}),
    )


SCRIPT = """\
/start
1
/join Frome
/as Alice
/branch
1
/as Bob
/dues @sam 2027-11-30
/as Sam
/me
/nonsense
"""


def test_console_replays_a_script_of_the_demo_and_exits_0(tmp_path: Path) -> None:
    result = organiser("console", "--demo", cwd=tmp_path, stdin=SCRIPT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Sam> /start" in out and "[1] I agree" in out
    assert "Welcome to the Frome branch!" in out
    assert "→ to Alice: Sam (" in out and "joined the Frome branch." in out
    assert "Frome branch: affiliated (South West region)" in out
    assert "People in the Frome branch (7):" in out
    assert "→ to Sam: Your membership dues are recorded as paid until 2027-11-30." in out
    assert "Member: dues paid until 2027-11-30." in out
    assert "I don't know the command /nonsense" in out
    assert "Traceback" not in out + result.stderr
    assert not (tmp_path / "organiser.db").exists()  # the demo lives in memory


def test_run_without_a_token_is_the_console_on_a_sqlite_file(tmp_path: Path) -> None:
    first = organiser("run", cwd=tmp_path, stdin="/start\n1\n/join Wells\n1\n")
    assert first.returncode == 0, first.stderr
    assert "first person interested in a Wells branch" in first.stdout
    second = organiser("run", cwd=tmp_path, stdin="/me\n")
    assert "Branch: Wells (proposed)." in second.stdout  # kept in organiser.db
    assert (tmp_path / "organiser.db").exists()


def test_a_bad_config_key_stops_with_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[branches]\nforming_threshold = "lots"\n')
    result = organiser("run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "organiser: config.toml: branches.forming_threshold must be a whole number of 1 or more"
    ]


def test_an_unknown_key_and_a_bad_environment_value_are_named(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[party]\nnmae = "x"\n')
    assert "unknown key party.nmae" in organiser("run", cwd=tmp_path).stderr
    (tmp_path / "config.toml").unlink()
    result = organiser("run", cwd=tmp_path, env={"ORGANISER_PARTY_TIMEZONE": "Mars/Base"})
    assert result.returncode == 2
    assert "ORGANISER_PARTY_TIMEZONE" in result.stderr and "Traceback" not in result.stderr


def test_a_webhook_without_a_secret_token_is_refused(tmp_path: Path) -> None:
    result = organiser(
        "run",
        cwd=tmp_path,
        env={
            "ORGANISER_TELEGRAM_TOKEN": "123:abc",
            "ORGANISER_TELEGRAM_WEBHOOK_URL": "https://example.org/hook",
        },
    )
    assert result.returncode == 2
    assert "telegram.secret_token must be set" in result.stderr


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = organiser(
        "console", "--db", "postgresql://nobody@127.0.0.1:1/none", cwd=tmp_path, stdin=""
    )
    assert result.returncode == 2
    assert result.stderr.startswith("organiser: cannot open the database at postgresql")
    assert "Traceback" not in result.stderr


@pytest.mark.postgres
def test_db_upgrade_then_console_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    import psycopg

    admin_url = pg_url.rsplit("/", 1)[0] + "/postgres"
    name = f"organiser_cli_{os.getpid()}_{os.urandom(3).hex()}"  # unique per test process
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        stale = organiser("console", "--db", url, cwd=tmp_path, stdin="/help\n")
        assert stale.returncode == 2 and "organiser db upgrade" in stale.stderr
        upgraded = organiser("db", "upgrade", "--db", url, cwd=tmp_path)
        assert upgraded.returncode == 0 and "up to date" in upgraded.stdout
        keyless = organiser("console", "--db", url, cwd=tmp_path, stdin="/help\n")
        assert keyless.returncode == 2 and "polls.ballot_key is not set" in keyless.stderr
        key = {"ORGANISER_POLLS_BALLOT_KEY": BALLOT_KEY}
        chat = organiser("console", "--db", url, cwd=tmp_path, stdin="/start\n1\n/me\n", env=key)
        assert chat.returncode == 0 and "your short id is" in chat.stdout
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_import_reports_rejected_rows_and_writes_claim_codes(tmp_path: Path) -> None:
    # A branch to import into: propose Frome from the console on the same file.
    organiser("run", cwd=tmp_path, stdin="/start\n1\n/join Frome\n1\n")
    members = tmp_path / "members.csv"
    members.write_text(
        "name,branch,dues_paid_until\n"
        "Ann Smith,Frome,2027-06-30\n"
        "Ben Jones,frome,\n"
        "Cat Brown,Nowhere,\n"
        "Dev Patel,Frome,30/06/2027\n"
    )
    result = organiser("import", "members.csv", cwd=tmp_path)
    assert result.returncode == 1  # some rows were rejected
    assert "line 4: rejected: no branch called 'Nowhere'" in result.stderr
    assert (
        "line 5: rejected: dues_paid_until '30/06/2027' is not a YYYY-MM-DD date" in result.stderr
    )
    assert "imported 2 people, rejected 2" in result.stdout
    codes = (tmp_path / "members.codes.csv").read_text().splitlines()
    assert codes[0] == "line,name,branch,short_id,claim_code" and len(codes) == 3
    code = codes[1].split(",")[-1]
    # Ann claims her record from a chat.
    claimed = organiser("run", cwd=tmp_path, stdin=f"/as Annie\n/start\n1\n/claim {code}\n/me\n")
    assert "linked to your membership record" in claimed.stdout
    assert "Ann Smith, your short id" in claimed.stdout
    assert "Member: dues paid until 2027-06-30." in claimed.stdout
    # Importing the same file again adds nobody twice.
    again = organiser("import", "members.csv", "--strict", cwd=tmp_path)
    assert "nothing imported" in again.stdout and "already in Frome" in again.stderr


def test_import_of_a_file_without_the_columns_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("full_name,town\nA,B\n")
    result = organiser("import", "bad.csv", cwd=tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "organiser: bad.csv: the file has no column name, branch (needs: name, branch)"
    )


def test_the_console_saves_the_files_the_bot_sends_where_it_says(tmp_path: Path) -> None:
    script = "/start\n1\n/mydata\n/mydata\n"
    result = organiser("console", "--demo", cwd=tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    saved = sorted((tmp_path / "organiser-files").iterdir())
    assert len(saved) == 2  # the second never overwrites the first
    for path in saved:
        assert f"saved as organiser-files/{path.name}" in result.stdout
        assert '"display_name": "Sam"' in path.read_text()
