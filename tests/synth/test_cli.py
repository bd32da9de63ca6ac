"""``tandem synth`` on the command line: bad input is one line and exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.cli import main

GOOD = [
    "synth",
    "--patients",
    "50",
    "--seed",
    "1",
    "--start",
    "2024-01-01",
    "--end",
    "2025-01-01",
    "--no-progress",
]


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        code = main(argv)
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_it_refuses_a_negative_population(capsys) -> None:
    assert "0 or more" in _refused(
        capsys, ["synth", "--patients", "-5", "--seed", "1", "--out", "x"]
    )


def test_it_refuses_an_unknown_option(capsys) -> None:
    assert "unrecognized arguments" in _refused(capsys, [*GOOD, "--colour", "blue"])


def test_it_refuses_a_bad_date(capsys) -> None:
    assert "YYYY-MM-DD" in _refused(
        capsys, ["synth", "--patients", "5", "--seed", "1", "--start", "2024-13-01"]
    )


def test_it_refuses_an_end_before_the_start(capsys) -> None:
    argv = [
        "synth",
        "--patients",
        "5",
        "--seed",
        "1",
        "--start",
        "2025-01-01",
        "--end",
        "2024-01-01",
        "--out",
        "x",
    ]
    assert "must come after" in _refused(capsys, argv)


def test_it_refuses_an_unwritable_output_path(capsys, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert "cannot write" in _refused(capsys, [*GOOD, "--out", str(blocker / "sub")])


def test_it_needs_an_output_path_for_parquet(capsys) -> None:
    assert "--out" in _refused(capsys, GOOD)


def test_it_writes_parquet_and_prints_the_report(capsys, tmp_path: Path) -> None:
    assert main([*GOOD, "--out", str(tmp_path), "--report"]) == 0
    out = capsys.readouterr().out
    assert "SMI prevalence" in out and "FUH 7-day" in out
    assert (tmp_path / "encounters.parquet").exists()


def test_it_writes_to_the_database_and_refuses_the_same_seed_twice(db, capsys) -> None:
    from tandem.registry.models import Patient

    argv = [
        "synth",
        "--patients",
        "30",
        "--seed",
        "4242",
        "--start",
        "2024-01-01",
        "--end",
        "2025-01-01",
    ]
    assert main([*argv, "--format", "db", "--no-progress"]) == 0
    assert Patient.objects.filter(home_site__code__startswith="synth-4242-").count() == 30
    capsys.readouterr()
    assert "already stored" in _refused(capsys, [*argv, "--format", "db", "--no-progress"])


def test_it_refuses_a_second_population_unless_asked_to_append(db, capsys) -> None:
    from tandem.registry.models import Patient

    argv = ["synth", "--patients", "20", "--start", "2024-01-01", "--end", "2025-01-01"]
    db_args = ["--format", "db", "--no-progress"]
    assert main([*argv, "--seed", "4343", *db_args]) == 0
    capsys.readouterr()
    assert _refused(capsys, [*argv, "--seed", "4344", *db_args]).endswith(
        "the database already holds 20 patients; pass --append to add another population\n"
    )
    assert main([*argv, "--seed", "4344", *db_args, "--append"]) == 0
    assert Patient.objects.count() == 40
