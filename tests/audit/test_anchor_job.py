"""The daily anchor job: the chain's head appended to a file outside the database, a signed
digest to every privacy officer — so that a consistent rewrite of the whole table is caught."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import override_settings

from tandem.audit import anchors, jobs, services
from tandem.audit.models import AuditEvent
from tandem.tasks.models import Task
from tests.audit.tampering import rewrite_every_event, tamper, write_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def anchor_file(tmp_path, settings):
    path = tmp_path / "anchors" / "audit-anchors.txt"
    settings.TANDEM_AUDIT_ANCHOR_FILE = path
    return path


def test_the_job_appends_the_head_and_never_rewrites_earlier_lines(team, anchor_file):
    write_events(3)
    first = jobs.record_anchor()
    first_text = anchor_file.read_text()
    write_events(2)
    second = jobs.record_anchor()

    assert first.intact and first.appended and second.appended
    assert anchor_file.read_text().startswith(first_text)
    recorded = anchors.read_file(anchor_file)
    assert [a.count for a in recorded] == [first.count, second.count]
    assert recorded[0].hash == first.head and recorded[1].hash == second.head
    assert second.count >= first.count + 2


def test_a_consistent_rewrite_of_the_whole_table_is_detected_against_the_file(team, anchor_file):
    write_events(5)
    jobs.record_anchor()

    rewrite_every_event("mallory")  # every hash and the head recomputed: the chain alone is fine
    assert services.verify().intact

    result, _ = jobs.chain_status()
    assert not result.intact
    assert any("rewritten" in p.message for p in result.problems)
    digest = jobs.record_anchor()
    assert not digest.intact and not digest.appended
    assert len(anchors.read_file(anchor_file)) == 1  # a broken chain is never anchored


def test_every_privacy_officer_gets_a_signed_digest_as_a_task_and_a_mail(team, anchor_file):
    write_events(2)
    digest = jobs.record_anchor()

    [task] = Task.objects.filter(owner=team.priya, source="alert")
    assert "chain intact" in task.title and task.patient_id is None
    assert f"hmac-sha256: {digest.signature}" in task.detail
    assert jobs.signature_holds(digest.message(), digest.signature)
    assert not jobs.signature_holds(digest.message().replace("intact", "BROKEN"), digest.signature)
    [message] = mail.outbox
    assert message.to == ["priya@example.org"] and digest.head in message.body
    assert not Task.objects.filter(owner__in=[team.alice, team.leo]).exists()
    audited = AuditEvent.objects.filter(action="audit-anchor").get()
    assert audited.outcome == "written" and f"head={digest.head}" in audited.detail


def test_a_broken_chain_sends_an_urgent_alert(team, anchor_file):
    events = write_events(3)
    tamper("UPDATE audit_auditevent SET detail = %s WHERE id = %s", ["x", events[0].pk])

    digest = jobs.record_anchor()

    assert not digest.intact and "chain: BROKEN" in digest.message()
    task = Task.objects.get(owner=team.priya)
    assert task.priority == "urgent" and "BROKEN" in task.title
    assert not anchor_file.exists()


def test_the_signing_key_defaults_to_one_derived_from_the_secret_key(settings):
    settings.TANDEM_AUDIT_ANCHOR_KEY = None
    derived = jobs.anchor_key()
    assert derived and settings.SECRET_KEY.encode() not in derived
    with override_settings(TANDEM_AUDIT_ANCHOR_KEY="k" * 40):
        assert jobs.anchor_key() == b"k" * 40
        assert jobs.sign("x") != jobs.sign("x", derived)


def test_the_schedule_runs_daily_at_the_configured_time(db, settings):
    from django_q.models import Schedule

    settings.TANDEM_AUDIT_ANCHOR_AT = "01:30"
    schedule = jobs.ensure_schedule()
    assert schedule.func == "tandem.audit.jobs.scheduled_anchor"
    assert schedule.schedule_type == Schedule.DAILY and schedule.repeats == -1
    settings.TANDEM_AUDIT_ANCHOR_AT = "03:15"
    moved = jobs.ensure_schedule()
    assert moved.pk == schedule.pk
    assert Schedule.objects.filter(name=jobs.SCHEDULE_NAME).count() == 1
    import zoneinfo

    assert (
        moved.next_run.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE)).strftime("%H:%M")
        == "03:15"
    )
