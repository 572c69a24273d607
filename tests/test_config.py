"""Settings: every key declared once, read from config.toml or the environment."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from bot.kernel.config import ConfigError, Settings, declared, env_name, load_settings

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def test_the_example_config_shows_every_key_with_its_default() -> None:
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    shown = {(section, key) for section, table in example.items() for key in table}
    assert shown == {(k.section, k.key) for k in declared()}
    assert load_settings(EXAMPLE, env={}) == Settings()


def test_every_field_of_the_settings_is_a_key_of_the_config() -> None:
    names = [k.name for k in declared()]
    assert names == [f.name for f in dataclasses.fields(Settings)]
    assert len({(k.section, k.key) for k in declared()}) == len(names)


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[party]\nname = "From the file"\n[health]\nport = 8080\n')
    assert env_name("health", "port") == "ORGANISER_HEALTH_PORT"
    settings = load_settings(config, env={"ORGANISER_PARTY_NAME": "From the environment"})
    assert (settings.party_name, settings.health_port) == ("From the environment", 8080)
    assert load_settings(config, env={"ORGANISER_HEALTH_PORT": "9090"}).health_port == 9090


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ('[party]\nnmae = "x"\n', {}, "config.toml: unknown key party.nmae"),
        ("party = 3\n", {}, "config.toml: [party] must be a table of keys"),
        ("[party\n", {}, "config.toml: not valid TOML"),
        (
            '[branches]\nforming_threshold = "lots"\n',
            {},
            "config.toml: branches.forming_threshold must be a whole number of 1 or more",
        ),
        (
            "",
            {"ORGANISER_PARTY_TIMEZONE": "Mars/Base"},
            "environment variable ORGANISER_PARTY_TIMEZONE 'Mars/Base' is not a known time zone",
        ),
        (
            '[party]\nlocale = "fr"\n',
            {},
            "config.toml: party.locale 'fr' is not a language the bot speaks (it speaks: en",
        ),
        (
            "",
            {"ORGANISER_CANVASSING_ROUNDUP_TIME": "25:00"},
            "ORGANISER_CANVASSING_ROUNDUP_TIME must be a time of day as HH:MM",
        ),
        (
            '[telegram]\nwebhook_url = "https://example.org/hook"\n',
            {},
            "telegram.secret_token must be set when telegram.webhook_url is",
        ),
    ],
)
def test_a_bad_key_or_value_is_one_line_naming_it(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env=env)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_values_are_checked_and_tidied_as_they_are_read() -> None:
    settings = load_settings(
        env={
            "ORGANISER_CANVASSING_ROUNDUP_DAY": "Friday",
            "ORGANISER_CANVASSING_ROUNDUP_TIME": "9:05",
            "ORGANISER_LOGGING_LEVEL": "debug",
            "ORGANISER_CONFIG": str(EXAMPLE),
        }
    )
    assert (settings.roundup_day, settings.roundup_time, settings.log_level) == (
        "friday",
        "09:05",
        "DEBUG",
    )


def test_a_config_file_is_optional_unless_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no config.toml here
    assert load_settings(env={}) == Settings()
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found"):
        load_settings(env={"ORGANISER_CONFIG": str(tmp_path / "nope.toml")})


def test_the_ballot_key_is_never_in_the_settings_repr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    key = "A" * 43 + "="
    settings = load_settings(env={"ORGANISER_POLLS_BALLOT_KEY": key})
    assert settings.polls_ballot_key == key and key not in repr(settings)
