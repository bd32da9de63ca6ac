"""``tandem jobs run|list``: a line per step; bad input is one line and exit status 2."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tandem.cli import main
from tandem.jobs import services
from tandem.jobs.models import JobRun

AS_OF = dt.date(2026, 12, 3)


def _refused(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main(argv))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (
            ["jobs", "run", "daily-refresh", "--as-of", "03/12/2026"],
            "expected a date as YYYY-MM-DD",
        ),
        (["jobs", "run", "daily-refresh", "--as-of", "2026-02-30"], "expected a date"),
        (["jobs", "run", "nightly"], "invalid choice: 'nightly'"),
        (["jobs", "list", "--limit", "0"], "expected a number above 0"),
        (["jobs"], "required: ACTION"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(capsys, argv, says):
    assert says in _refused(capsys, argv)


def test_a_day_in_the_future_is_refused(capsys, db):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    err = _refused(capsys, ["jobs", "run", "daily-refresh", "--as-of", tomorrow.isoformat()])
    assert "is in the future" in err
    assert not JobRun.objects.exists()


def test_it_runs_the_refresh_with_a_line_per_step(capsys, team, pipeline):
    pipeline("first", "second")

    assert main(["jobs", "run", "daily-refresh", "--as-of", AS_OF.isoformat()]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[0] == "first      First: started"
    assert out[1].startswith("first      First: done in ") and out[1].endswith("rows=3")
    assert out[2] == "second     Second: started"
    assert out[4].startswith("daily refresh run #") and "for 2026-12-03 succeeded" in out[4]
    assert len(out) == 5  # progress lines only with --verbose


def test_a_failed_refresh_says_where_and_exits_1(capsys, team, pipeline):
    pipeline("leaky_failure")

    assert main(["jobs", "run", "daily-refresh", "--verbose"]) == 1

    captured = capsys.readouterr()
    assert "FAILED: Leaky Failure: ValueError at tests/jobs/steps.py" in captured.err
    assert "Jones" not in captured.out + captured.err


def test_a_refresh_is_refused_while_another_runs(capsys, team, pipeline):
    pipeline("first")
    busy = JobRun.objects.create(
        job="daily-refresh",
        status="running",
        as_of=AS_OF,
        trigger="schedule",
        heartbeat_at=timezone.now(),
    )

    err = _refused(capsys, ["jobs", "run", "daily-refresh"])

    assert f"a daily refresh is running: run #{busy.pk}" in err


def test_it_lists_the_history(capsys, team, pipeline):
    assert main(["jobs", "list"]) == 0
    assert capsys.readouterr().out == "no job has run yet\n"
    pipeline("first", "leaky_failure")
    run = services.run_daily_refresh(by=None, as_of=AS_OF)

    assert main(["jobs", "list"]) == 0

    out = capsys.readouterr().out
    assert f"#{run.pk}" in out and "failed" in out and "first:succeeded leaky_failure:failed" in out
    assert "error: Leaky Failure: ValueError" in out
