"""The jobs page: leaders only; history, a running row that polls itself, Run now, Retry."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django_q.models import OrmQ

from tandem.audit.models import AuditEvent
from tandem.jobs import queue, rules, services
from tandem.jobs.models import JobRun

PAGE = reverse("jobs")
AS_OF = dt.date(2026, 12, 3)


@pytest.mark.parametrize("who", ["alice", "bob", "olive", "pat_user"])
def test_only_leaders_see_it_and_every_refusal_is_audited(client, team, who):
    user = getattr(team, who)
    client.force_login(user)

    for response in (
        client.get(PAGE),
        client.post(reverse("jobs-run-now")),
        client.get(reverse("job-detail", args=[1])),
    ):
        assert response.status_code == 403

    denied = AuditEvent.objects.filter(actor_id=user.pk, outcome="denied")
    assert denied.count() == 3 and "jobs page" in denied.first().detail
    assert not JobRun.objects.exists() and not OrmQ.objects.exists()


def test_it_needs_a_signed_in_user(client, db):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_leader_sees_the_history_with_steps_counts_and_errors(client, team, pipeline):
    pipeline("first", "leaky_failure", "never")
    failed = services.run_daily_refresh(by=None, as_of=AS_OF)
    client.force_login(team.leo)

    page = client.get(PAGE).text

    assert f"#{failed.pk}" in page and "Failed" in page and "03-Dec-2026" in page
    assert "First</span>: done" in page and "(rows 3)" in page
    assert "Leaky Failure</span>: failed" in page and "Never</span>: not run" in page
    assert "Leaky Failure: ValueError at tests/jobs/steps.py" in page
    assert "Command line or demo" in page and "Retry" in page
    detail = client.get(reverse("job-detail", args=[failed.pk])).text
    assert "counted 3" in detail and "Error: ValueError" in detail


def test_run_now_queues_one_refresh_however_often_it_is_clicked(client, team):
    client.force_login(team.leo)

    first = client.post(reverse("jobs-run-now"), follow=True)
    second = client.post(reverse("jobs-run-now"), follow=True)

    run = JobRun.objects.get()
    assert OrmQ.objects.count() == 1
    assert run.status == rules.QUEUED and run.triggered_by == team.leo and run.trigger == "user"
    assert f"Daily refresh queued as run #{run.pk}" in first.text
    assert "Not queued: a daily refresh is queued" in second.text
    assert "Run now by leo" in second.text


def test_a_queued_or_running_row_polls_itself_until_it_has_finished(client, team, pipeline):
    pipeline("first")
    client.force_login(team.leo)
    run = queue.enqueue_daily_refresh(by=team.leo)

    row = client.get(reverse("job-row", args=[run.pk]), HTTP_HX_REQUEST="true").text
    assert 'hx-trigger="every 2s"' in row and f'hx-get="/jobs/{run.pk}/row/"' in row
    assert 'hx-trigger="every 2s"' in client.get(PAGE).text

    queue.execute_run(run.pk)
    row = client.get(reverse("job-row", args=[run.pk]), HTTP_HX_REQUEST="true").text

    assert "hx-trigger" not in row and "Succeeded" in row and "(rows 3)" in row


def test_retry_queues_a_failed_run_again_once(client, team, pipeline):
    pipeline("leaky_failure")
    failed = services.run_daily_refresh(by=None, as_of=AS_OF)
    client.force_login(team.leo)

    first = client.post(reverse("job-retry", args=[failed.pk]), follow=True)
    client.post(reverse("job-retry", args=[failed.pk]), follow=True)

    again = JobRun.objects.get(retry_of=failed)
    assert again.status == rules.QUEUED and again.as_of == AS_OF and OrmQ.objects.count() == 1
    assert f"Run #{failed.pk} retried as run #{again.pk}" in first.text
    response = client.post(reverse("job-retry", args=[again.pk]), follow=True)
    assert "only a failed run is retried" in response.text


def test_unknown_runs_are_404(client, team):
    client.force_login(team.leo)
    assert client.get(reverse("job-detail", args=[999])).status_code == 404
    assert client.post(reverse("job-retry", args=[999])).status_code == 404


def test_the_page_reads_the_history_in_a_fixed_number_of_queries(
    client, team, pipeline, django_assert_max_num_queries
):
    pipeline("first")
    for _ in range(5):
        services.run_daily_refresh(by=None, as_of=AS_OF)
    queue.enqueue_daily_refresh(by=team.leo)
    client.force_login(team.leo)

    with django_assert_max_num_queries(12):
        response = client.get(PAGE)

    assert response.text.count('data-testid="job-run"') == 6
