"""The named people every test story uses.

- Alice: PCP at the primary care clinic (Riverside Family Medicine).
- Bob: care manager in the CMHC's behavioral health program.
- Charlie: psychiatrist in the same behavioral health program.
- Sam: counselor in the Part 2 substance use program.
- Leo: leader with an operations role at both clinics, not a clinician.
- Olive: an outsider — a nurse with no relationship to any patient. She must see nothing.
- Priya: privacy officer at both clinics; reads the audit log, never a chart.
- Pat: a patient who signs in to see their own record. Alice, Bob and Charlie are on Pat's
  care team; Sam is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tandem.core.models import Practitioner, Program, Site
from tests import builders as b


@dataclass
class Team:
    pc_site: Site
    cmhc: Site
    sud_site: Site
    pc_program: Program
    bh_program: Program
    part2_program: Program
    alice: Any
    bob: Any
    charlie: Any
    sam: Any
    leo: Any
    olive: Any
    pat_user: Any
    pat: Any  # the Patient row
    priya: Any  # privacy officer at both clinics

    def practitioner(self, user: Any) -> Practitioner:
        return Practitioner.objects.get(user=user)


def build_team() -> Team:
    org = b.organization(name="County Health Partnership")
    pc_site = b.site(organization=org, code="riverside", name="Riverside Family Medicine")
    cmhc = b.site(organization=org, code="northside-cmhc", name="Northside CMHC", kind="cmhc")
    sud_site = b.site(
        organization=org, code="harbor-sud", name="Harbor Recovery", kind="sud-program"
    )
    pc_program = b.program(site=pc_site, name="Primary care", kind="primary-care")
    bh_program = b.program(site=cmhc, name="Adult mental health", kind="behavioral-health")
    part2 = b.program(site=sud_site, name="Opioid treatment", kind="sud", is_part2=True)

    alice, bob, charlie, sam, leo, olive, pat_user = (
        b.user(name) for name in ("alice", "bob", "charlie", "sam", "leo", "olive", "pat")
    )
    alice_p = b.practitioner(
        user=alice, given_name="Alice", discipline="pcp", sites=[pc_site], programs=[pc_program]
    )
    bob_p = b.practitioner(
        user=bob, given_name="Bob", discipline="care-manager", sites=[cmhc], programs=[bh_program]
    )
    charlie_p = b.practitioner(
        user=charlie,
        given_name="Charlie",
        discipline="psychiatrist",
        sites=[cmhc],
        programs=[bh_program],
    )
    b.practitioner(
        user=sam, given_name="Sam", discipline="social-worker", sites=[sud_site], programs=[part2]
    )
    b.practitioner(user=olive, given_name="Olive", discipline="nurse")
    b.site_role(user=leo, site=pc_site, role="leader")
    b.site_role(user=leo, site=cmhc, role="leader")
    priya = b.user("priya", email="priya@example.org")
    b.site_role(user=priya, site=pc_site, role="privacy-officer")
    b.site_role(user=priya, site=cmhc, role="privacy-officer")

    pat = b.patient(
        given_name="Pat", family_name="Jones", user=pat_user, mrn_site=pc_site, home_site=pc_site
    )
    b.care_team_member(patient=pat, practitioner=alice_p, role="pcp")
    b.care_team_member(patient=pat, practitioner=bob_p, role="care-manager", program=bh_program)
    b.care_team_member(patient=pat, practitioner=charlie_p, role="psychiatrist", program=bh_program)
    return Team(
        pc_site,
        cmhc,
        sud_site,
        pc_program,
        bh_program,
        part2,
        alice,
        bob,
        charlie,
        sam,
        leo,
        olive,
        pat_user,
        pat,
        priya,
    )
