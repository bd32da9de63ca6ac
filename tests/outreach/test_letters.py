"""Outreach letters: a PDF in the patient's language, one page per letter, and audited."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.outreach import letters, services
from tandem.outreach.models import ContactAttempt, WorklistItem
from tests.outreach import builders as ob

DAY = dt.date(2026, 12, 3)


def pages(pdf: bytes) -> int:
    return pdf.count(b"/Type /Page\n")


def test_a_spanish_letter_is_a_pdf_with_spanish_text():
    letter = letters.Letter(
        "Ana", "Pérez", ["1 Main St"], "es-MX", "smi-disengaged", "Riverside", DAY
    )

    pdf = letters.render([letter])

    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert pages(pdf) == 1
    assert "Estimado/a Ana Pérez:".encode("latin-1") in pdf
    assert "3 de diciembre de 2026".encode("latin-1") in pdf


def test_a_language_without_a_template_gets_english_and_no_text_names_a_diagnosis():
    letter = letters.Letter("Bo", "Li", [], "vi", "smi-disengaged", "Riverside", DAY)

    pdf = letters.render([letter])

    assert b"Dear Bo Li," in pdf and b"December 3, 2026" in pdf
    for word in (b"mental", b"psych", b"schizo", b"bipolar", b"antipsychotic", b"SMI"):
        assert word not in pdf


def test_the_batch_is_one_pdf_with_a_page_per_selected_item_and_each_read_is_audited(client, team):
    patients = [ob.disengaged_smi(team, language=lang) for lang in ("en", "es")]
    services.rebuild_worklists(as_of=timezone.localdate())
    ids = list(WorklistItem.objects.filter(patient__in=patients).values_list("pk", flat=True))
    client.force_login(team.bob)

    response = client.post(reverse("worklist-letters"), {"items": ids})

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert pages(response.content) == 2
    assert b"Estimado/a" in response.content and b"Dear " in response.content
    assert AuditEvent.objects.filter(action="letter", actor_id=team.bob.pk).count() == 2
    assert ContactAttempt.objects.count() == 0  # printing is not sending


def test_saying_the_letters_are_mailed_logs_a_letter_attempt_on_each(client, team):
    patient = ob.disengaged_smi(team)
    services.rebuild_worklists(as_of=timezone.localdate())
    item = WorklistItem.objects.get(patient=patient)
    client.force_login(team.bob)

    client.post(reverse("worklist-letters"), {"items": [item.pk], "mark_sent": "on"})

    assert ContactAttempt.objects.get(item=item).channel == "letter"


def test_letters_leave_out_items_the_reader_may_not_see(client, team):
    patient = ob.disengaged_smi(team)
    services.rebuild_worklists(as_of=timezone.localdate())
    item = WorklistItem.objects.get(patient=patient)
    client.force_login(team.alice)  # the SMI item is mental-health: not hers

    assert client.post(reverse("worklist-letters"), {"items": [item.pk]}).status_code == 400
    assert client.get(reverse("worklist-item-letter", args=[item.pk])).status_code == 404
    assert client.post(reverse("worklist-letters"), {"items": ["1; drop"]}).status_code == 400
