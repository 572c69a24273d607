"""``organiser sortition``: lottery, draw and verify, driven through argparse."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pytest

from adapters.cli_base import Stop
from adapters.sortition_cli import add_parser
from bot.lib.sortition.synthetic import CATEGORIES, proportional_quotas, skewed_pool

DATA = Path(__file__).resolve().parent / "data" / "sortition"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="organiser")
    sub = root.add_subparsers(dest="command", required=True)
    add_parser(sub)
    return root


async def run(*argv: str) -> int:
    args = parser().parse_args(["sortition", *argv])
    result: int = await args.func(args, None)
    return result


@pytest.fixture
def pool(tmp_path: Path) -> tuple[Path, Path]:
    """200 generated people (id column first) and quotas in the feature,value,min,max format."""
    people = tmp_path / "people.csv"
    with people.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "name", *CATEGORIES])
        for person in skewed_pool(200, seed=11):
            writer.writerow([person.id, "not kept", *(person.features[c] for c in CATEGORIES)])
    quotas = tmp_path / "quotas.csv"
    with quotas.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["feature", "value", "min", "max"])
        for q in proportional_quotas(12):
            writer.writerow([q.category, q.value, q.min, q.max])
    return people, quotas


async def test_lottery_draw_verify(
    pool: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people, quotas = pool
    exclude = tmp_path / "exclude.txt"
    exclude.write_text("# withdrew\np001\n\np002\n", encoding="utf-8")
    out = tmp_path / "record.json"
    code = await run(
        "lottery", "--people", str(people), "--quotas", str(quotas), "--k", "12",
        "--m", "200", "--exclude", str(exclude), "--seed-source", "lottery:Lotto:2026-12-05",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "selection probability: min 0." in printed
    assert "distinct panels of 200" in printed and "time:" in printed
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["m"] == 200 and record["k"] == 12
    assert record["excluded"] == ["p001", "p002"]
    assert record["seed_source"] == {"kind": "lottery", "name": "Lotto", "date": "2026-12-05"}
    assert "name" not in record["pool"][0]["features"]  # other columns never enter the record

    assert await run("draw", str(out), "--seed", "3 9 27 41 50 58 + 1") == 0
    drawn = capsys.readouterr().out.split()
    assert len(drawn) == 12 and not {"p001", "p002"} & set(drawn)

    published = record["record_hash"]
    assert await run("verify", str(out), "--seed", "3 9 27 41 50 58 + 1", "--deep", "--published-hash", published) == 0  # fmt: skip
    verified = capsys.readouterr().out
    assert "every check passed (deep)" in verified
    assert verified.split()[-12:] == drawn
    assert await run("verify", str(out), "--seed", "3 9 27 41 50 58 + 1", "--record-hash", record["record_hash"]) == 0  # fmt: skip
    capsys.readouterr()

    record["quotas"][0]["max"] += 1
    out.write_text(json.dumps(record), encoding="utf-8")
    assert (
        await run(
            "verify", str(out), "--seed", "3 9 27 41 50 58 + 1", "--published-hash", published
        )
        == 1
    )
    captured = capsys.readouterr()
    assert "mismatch: quotas: does not match its committed hash" in captured.out
    assert "does not match: quotas" in captured.err
    with pytest.raises(Stop, match=r"does not match itself \(quotas\)"):
        await run("draw", str(out), "--seed", "3 9 27 41 50 58 + 1")


async def test_the_public_instance_without_an_id_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = DATA / "example_small_20"
    out = tmp_path / "r.json"
    code = await run(
        "lottery", "--people", str(folder / "respondents.csv"),
        "--quotas", str(folder / "categories.csv"), "--k", "20", "--out", str(out),
    )  # fmt: skip
    assert code == 0
    assert "min 0.100000, max 0.100000" in capsys.readouterr().out
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["pool"][0]["id"] == "10"  # line numbers (sorted as text) are the ids
    assert record["seed_source"]["kind"] == "string"


@pytest.mark.parametrize(
    ("quotas_text", "message"),
    [
        ("group,x,min,max\n", "the header must be category,feature,min,max"),
        ("category,feature,min,max\ngender,female,one,2\n", "line 2: min and max must be whole"),
        ("category,feature,min,max\n", "has no quotas"),
        ("category,feature,min,max\nshoe,large,0,3\n", "no column for the quota category 'shoe'"),
        (
            "category,feature,min,max\ngender,female,15,20\ngender,male,15,20\n"
            "gender,prefer not to say,0,3\n",
            "the quotas cannot all be met: gender=",
        ),
    ],
)
async def test_problems_a_person_can_fix_stop_in_one_line(
    pool: tuple[Path, Path], tmp_path: Path, quotas_text: str, message: str
) -> None:
    people, _ = pool
    quotas = tmp_path / "bad.csv"
    quotas.write_text(quotas_text, encoding="utf-8")
    with pytest.raises(Stop, match=message) as caught:
        await run(
            "lottery", "--people", str(people), "--quotas", str(quotas), "--k", "20",
            "--out", str(tmp_path / "x.json"),
        )  # fmt: skip
    assert "\n" not in str(caught.value)


async def test_unreadable_inputs(pool: tuple[Path, Path], tmp_path: Path) -> None:
    people, quotas = pool
    with pytest.raises(Stop, match="cannot read"):
        await run(
            "lottery", "--people", str(tmp_path / "missing.csv"), "--quotas", str(quotas),
            "--k", "5", "--out", str(tmp_path / "x.json"),
        )  # fmt: skip
    with pytest.raises(Stop, match="larger than the 200 people"):
        await run(
            "lottery", "--people", str(people), "--quotas", str(quotas),
            "--k", "500", "--out", str(tmp_path / "x.json"),
        )  # fmt: skip
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(Stop, match="not valid JSON"):
        await run("verify", str(broken), "--seed", "1", "--published-hash", "00")
    broken.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(Stop, match="not a sortition record"):
        await run("draw", str(broken), "--seed", "1")


async def test_a_record_missing_fields_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"format": "x"}), encoding="utf-8")
    assert await run("verify", str(partial), "--seed", "1", "--published-hash", "00") == 1
    assert "mismatch: pool: is missing" in capsys.readouterr().out
