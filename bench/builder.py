"""Synthetic register data for the benchmark, built with set-based SQL (``INSERT ... SELECT
generate_series``): every live LA, sized like real LAs, with officers, schools, absences,
children, parents, addresses, episodes in every state, their history and open escalations.

**This is the one place outside ``workflows/`` allowed to write ``Episode.state`` in bulk SQL**
(DESIGN section 4; ``tests/test_state_writes_lint.py`` lists this file by path). It may, because
it writes a whole synthetic register into an empty benchmark database at once, with a
TransitionLog row for every step of each episode's path from ``notified`` to the state it is
given, as if every transition had run. Nothing in the product calls it.

The shape, for ``scale`` children:

- every live LA of ``fixtures/las.csv`` (loaded with the product's own ``local_authorities_load``)
  uses the service; their sizes follow a Zipf-like weight ``rank ** -s``, with ``s`` chosen so that
  the largest LA (Kent, rank 1; the other ranks in a fixed shuffled order) holds about 3% of the
  children; every LA has at least one child;
- an artificial LA (DfE code 999) holds a tenth of ``scale`` more cases: 100,000 at 1,000,000,
  the size the page-speed target names; at smaller scales it shrinks in proportion;
- one EHE officer per 120 open cases (at least two), an EHE manager, a head of service, a front
  door duty worker and manager per LA; about one officer in twenty absent today;
- schools in proportion to the LA's size, and four school users at schools of the largest LA
  (the submission benchmark's clients);
- children with names in several scripts, a parent (siblings share one), a current address and
  sometimes a previous one; one in eight also has an earlier, closed episode;
- the current episode in every state of ``workflows.states.State`` (weights in ``STATE_WEIGHTS``);
  ``next_action_due`` and ``review_due_on`` spread a year either side of ``as_of``;
  ``received_on`` and ``contacts_verified_at`` spread over the two years and eighteen months
  before it (a date of receipt cannot be in the future; a verification at a time of the working
  day, 09:00 to 17:00, so that no one moment sees a whole day's cases go stale); first contacts, visits and address checks
  where the state implies them;
- open escalations at every level (every case in safeguarding review, and about one active case
  in twenty-five) with their events, some acknowledged.

Deterministic: every "random" value is a hash of the row number and a salt.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.db import connection, transaction

from ehe_register.models import LocalAuthority, ReasonCode
from ehe_register.roles import Role
from ehe_register.services.reference_data import local_authorities_load
from ehe_register.working_days import LONDON
from workflows.escalation_rules import RULES, Owner
from workflows.services.escalations import TEAM_QUEUE_ROLE
from workflows.states import State

LARGEST_SHARE = 0.03
LARGEST_DFE_CODE = "886"  # Kent: the largest EHE population in England
ARTIFICIAL_DFE_CODE = "999"
ARTIFICIAL_ONS_CODE = "E99999999"
ARTIFICIAL_SHARE = 0.1  # 100,000 cases at 1,000,000 children
CASES_PER_OFFICER = 120
EARLIER_EPISODE_SHARE = 0.125
SCHOOL_USERS = 4

# The current episode's state (weights out of 1000).
STATE_WEIGHTS: dict[str, int] = {
    State.NOTIFIED: 3,
    State.SAFEGUARDING_REVIEW: 20,
    State.AWAITING_CONSENT: 15,
    State.ADDRESS_VERIFICATION: 100,
    State.EDUCATION_ENQUIRY: 100,
    State.MONITORING: 352,
    State.REVIEW_DUE: 50,
    State.MISSING_EDUCATION: 20,
    State.S437_NOTICE: 15,
    State.ATTENDANCE_ORDER: 10,
    State.CLOSED: 315,
}
assert set(STATE_WEIGHTS) == set(State.values)
assert sum(STATE_WEIGHTS.values()) == 1000

# Each state's path from ``notified``: (transition, from, to).
_RC = ("risk_check", State.NOTIFIED, State.ADDRESS_VERIFICATION)
_CV = ("contacts_verified", State.ADDRESS_VERIFICATION, State.EDUCATION_ENQUIRY)
_PS = ("provision_suitable", State.EDUCATION_ENQUIRY, State.MONITORING)
_PU = ("provision_unsuitable", State.EDUCATION_ENQUIRY, State.S437_NOTICE)
PATHS: dict[str, list[tuple[str, str, str]]] = {
    State.NOTIFIED: [],
    State.SAFEGUARDING_REVIEW: [("risk_check", State.NOTIFIED, State.SAFEGUARDING_REVIEW)],
    State.AWAITING_CONSENT: [("risk_check", State.NOTIFIED, State.AWAITING_CONSENT)],
    State.ADDRESS_VERIFICATION: [_RC],
    State.EDUCATION_ENQUIRY: [_RC, _CV],
    State.MONITORING: [_RC, _CV, _PS],
    State.REVIEW_DUE: [_RC, _CV, _PS, ("review_falls_due", State.MONITORING, State.REVIEW_DUE)],
    State.MISSING_EDUCATION: [_RC, ("cannot_locate", State.ADDRESS_VERIFICATION, State.MISSING_EDUCATION)],
    State.S437_NOTICE: [_RC, _CV, _PU],
    State.ATTENDANCE_ORDER: [_RC, _CV, _PU, ("sao_served", State.S437_NOTICE, State.ATTENDANCE_ORDER)],
    State.CLOSED: [_RC, _CV, _PS, ("close", State.MONITORING, State.CLOSED)],
}
assert set(PATHS) == set(State.values)

# The open escalation an active case in each state may carry.
ESCALATION_BY_STATE = {
    State.SAFEGUARDING_REVIEW: "social_care_known",  # concern_ticked where a concern was ticked
    State.AWAITING_CONSENT: "consent_required",
    State.ADDRESS_VERIFICATION: "contacts_unverified",
    State.EDUCATION_ENQUIRY: "enquiry_overdue",
    State.MONITORING: "contacts_stale",
    State.REVIEW_DUE: "review_overdue",
    State.MISSING_EDUCATION: "cme_enquiry",
    State.S437_NOTICE: "contacts_stale",
    State.ATTENDANCE_ORDER: "contacts_stale",
}
OPEN_ESCALATION_SHARE = 0.04

FIRST_NAMES = [
    "Oliver", "Amelia", "Muhammad", "Isla", "Noah", "Ava", "Zoë", "Łukasz", "Siobhán", "Dafydd",
    "Chloé", "Aaliyah", "Jürgen", "Saoirse", "Oisín", "Αλέξανδρος", "Мария", "محمد", "美咲", "Priya",
    "Kofi", "Nguyễn", "Søren", "Ångström", "José", "Anaïs", "Seán", "Rhiannon", "Tomás", "Ewa",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
    "O'Brien", "Nowak", "Müller", "Ní Bhriain", "Kowalczyk", "Papadopoulos", "Иванова", "الحسن", "田中",
    "Patel", "Mensah", "Trần", "Jørgensen", "García", "Lefèvre", "Ó Súilleabháin", "ap Rhys", "Wiśniewska",
]  # fmt: skip
TOWNS = ["Maidstone", "Chelmsford", "Preston", "Winchester", "Guildford", "Leeds", "Bristol", "Norwich"]
STREETS = ["High Street", "Station Road", "Church Lane", "Mill Lane", "Victoria Road", "Heol y Llan", "Park Avenue"]


@dataclass(frozen=True)
class LaPlan:
    la_id: int
    dfe_code: str
    children: int
    officers: int
    schools: int


@dataclass(frozen=True)
class BuildSummary:
    scale: int
    seconds: float
    rows: dict[str, int]
    largest_la: str
    largest_share: float
    artificial_la: str
    artificial_cases: int


def zipf_exponent(n: int, share: float) -> float:
    """The ``s`` for which the first of ``n`` weights ``rank ** -s`` is ``share`` of their sum."""
    lo, hi = 0.0, 3.0
    for _ in range(60):
        mid = (lo + hi) / 2
        first = 1 / sum(rank**-mid for rank in range(1, n + 1))
        lo, hi = (mid, hi) if first < share else (lo, mid)
    return (lo + hi) / 2


def la_sizes(n_las: int, scale: int, share: float = LARGEST_SHARE) -> list[int]:
    """Children per LA by rank: Zipf-like, the largest about ``share``, every LA at least one."""
    s = zipf_exponent(n_las, share)
    weights = [rank**-s for rank in range(1, n_las + 1)]
    total = sum(weights)
    floor = 1 if scale >= n_las else 0
    sizes = [max(floor, int(scale * w / total)) for w in weights]
    rest = scale - sum(sizes)
    # Hand out the remainder (or take back the excess) from the largest down, keeping the order.
    i = 0
    while rest != 0:
        step = 1 if rest > 0 else -1
        if step > 0 or sizes[i % n_las] > floor + 1:
            sizes[i % n_las] += step
            rest -= step
        i += 1
    return sizes


def _rank_order(las: list[LocalAuthority]) -> list[LocalAuthority]:
    first = [la for la in las if la.dfe_code == LARGEST_DFE_CODE]
    others = sorted((la for la in las if la.dfe_code != LARGEST_DFE_CODE), key=lambda la: la.dfe_code)
    random.Random(12).shuffle(others)
    return first + others


def plan(scale: int) -> list[LaPlan]:
    """The LAs with their sizes (the artificial LA last)."""
    las = _rank_order(list(LocalAuthority.objects.exclude(dfe_code=ARTIFICIAL_DFE_CODE)))
    sizes = la_sizes(len(las), scale)
    artificial = LocalAuthority.objects.get(dfe_code=ARTIFICIAL_DFE_CODE)
    total_schools = min(20_000, max(3 * len(las), scale // 5))
    plans = []
    for la, n in [*zip(las, sizes, strict=True), (artificial, max(1, int(scale * ARTIFICIAL_SHARE)))]:
        active = n * (1000 - STATE_WEIGHTS[State.CLOSED]) / 1000
        plans.append(
            LaPlan(
                la_id=la.pk,
                dfe_code=la.dfe_code,
                children=n,
                officers=max(2, math.ceil(active / CASES_PER_OFFICER)),
                schools=max(3, round(total_schools * n / scale)),
            )
        )
    return plans


def _r(salt: int, key: str = "g") -> str:
    """A deterministic value in [0, 1) from the row number ``key`` and ``salt``."""
    return f"((hashtextextended({key}::text, {salt}) & 2147483647)::float8 / 2147483648.0)"


def _pick(values: list[str], salt: int, key: str = "g") -> str:
    array = "ARRAY[" + ", ".join(_quote(v) for v in values) + "]"
    return f"({array})[1 + floor({_r(salt, key)} * {len(values)})::int]"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _state_case(salt: int) -> str:
    whens, cumulative = [], 0
    for state, weight in STATE_WEIGHTS.items():
        cumulative += weight
        whens.append(f"WHEN {_r(salt)} * 1000 < {cumulative} THEN '{state}'")
    return "CASE " + " ".join(whens[:-1]) + f" ELSE '{list(STATE_WEIGHTS)[-1]}' END"


def _base(cursor: Any, table: str) -> int:
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
    return int(cursor.fetchone()[0])


def _reset_sequence(cursor: Any, table: str) -> None:
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"
    )


def _count(cursor: Any, table: str) -> int:
    cursor.execute(f"SELECT count(*) FROM {table}")
    return int(cursor.fetchone()[0])


TABLES = [
    "ehe_register_user",
    "ehe_register_user_groups",
    "ehe_register_user_schools",
    "ehe_register_school",
    "ehe_register_absence",
    "ehe_register_child",
    "ehe_register_person",
    "ehe_register_childperson",
    "ehe_register_address",
    "ehe_register_addresscheck",
    "workflows_episode",
    "workflows_transitionlog",
    "workflows_activity",
    "workflows_escalation",
    "workflows_escalationevent",
]


def artificial_la_ensure() -> LocalAuthority:
    la, _ = LocalAuthority.objects.update_or_create(
        dfe_code=ARTIFICIAL_DFE_CODE,
        defaults={"ons_code": ARTIFICIAL_ONS_CODE, "name": "Benchmark artificial LA (not a real authority)"},
    )
    return la


def build(*, scale: int, as_of: datetime) -> BuildSummary:
    """Write the synthetic register for ``scale`` children into the current (empty) database."""
    import time

    started = time.monotonic()
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    local_authorities_load()
    artificial_la_ensure()
    LocalAuthority.objects.update(uses_service=True)
    plans = plan(scale)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no queue of deferred foreign-key checks
        _write(cursor, plans, as_of)
        rows = {table: _count(cursor, table) for table in TABLES}
        for table in TABLES:
            cursor.execute(f"ANALYZE {table}")
    largest = max(plans[:-1], key=lambda p: p.children)
    return BuildSummary(
        scale=scale,
        seconds=round(time.monotonic() - started, 2),
        rows=rows,
        largest_la=largest.dfe_code,
        largest_share=round(largest.children / scale, 4),
        artificial_la=ARTIFICIAL_DFE_CODE,
        artificial_cases=plans[-1].children,
    )


def _write(cursor: Any, plans: list[LaPlan], as_of: datetime) -> None:
    today = as_of.astimezone(LONDON).date()
    p: dict[str, Any] = {"as_of": as_of, "today": today}
    # The role groups a migration makes (made again here if a flush has emptied the table).
    groups = {r.value: Group.objects.get_or_create(name=r.value)[0].pk for r in Role}
    user_base = _base(cursor, "ehe_register_user")
    school_base = _base(cursor, "ehe_register_school")
    # The plan as a table: child numbers lo..hi, user ids, school ids.
    cursor.execute(
        "CREATE TEMP TABLE bench_plan (la_id bigint, dfe_code text, lo bigint, hi bigint, officers int,"
        " officer_lo bigint, manager_id bigint, head_id bigint, duty_id bigint, cspa_manager_id bigint,"
        " schools int, school_lo bigint) ON COMMIT DROP"
    )
    rows, lo, user_next, school_next = [], 1, user_base + 1, school_base + 1
    for la in plans:
        rows.append(
            (la.la_id, la.dfe_code, lo, lo + la.children - 1, la.officers, user_next, user_next + la.officers,
             user_next + la.officers + 1, user_next + la.officers + 2, user_next + la.officers + 3,
             la.schools, school_next)
        )  # fmt: skip
        lo += la.children
        user_next += la.officers + 4
        school_next += la.schools
    cursor.executemany("INSERT INTO bench_plan VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
    total = lo - 1
    p["total"] = total

    # Staff: officers, then the manager, head of service, duty worker and front door manager.
    cursor.execute(
        f"""
        INSERT INTO ehe_register_user (id, password, is_superuser, username, first_name, last_name, email, is_staff,
            is_active, date_joined, phone, local_authority_id)
        SELECT u.id, '!', false, 'bench-' || bp.dfe_code || '-' || u.kind || '-' || u.n,
               {_pick(FIRST_NAMES, 1, "u.id")}, {_pick(LAST_NAMES, 2, "u.id")},
               'bench-' || bp.dfe_code || '-' || u.kind || '-' || u.n || '@example.org', false, true,
               %(as_of)s, '', bp.la_id
        FROM bench_plan bp
        CROSS JOIN LATERAL (
            SELECT bp.officer_lo + i AS id, 'officer' AS kind, i + 1 AS n FROM generate_series(0, bp.officers - 1) i
            UNION ALL SELECT bp.manager_id, 'manager', 1 UNION ALL SELECT bp.head_id, 'head', 1
            UNION ALL SELECT bp.duty_id, 'duty', 1 UNION ALL SELECT bp.cspa_manager_id, 'cspa-manager', 1
        ) u
        """,
        p,
    )
    cursor.execute(
        """
        INSERT INTO ehe_register_user_groups (user_id, group_id)
        SELECT bp.officer_lo + i, %(officer)s FROM bench_plan bp, generate_series(0, bp.officers - 1) i
        UNION ALL SELECT manager_id, %(manager)s FROM bench_plan
        UNION ALL SELECT head_id, %(head)s FROM bench_plan
        UNION ALL SELECT duty_id, %(duty)s FROM bench_plan
        UNION ALL SELECT cspa_manager_id, %(cspa_manager)s FROM bench_plan
        """,
        {
            "officer": groups[Role.EHE_OFFICER],
            "manager": groups[Role.EHE_MANAGER],
            "head": groups[Role.HEAD_OF_SERVICE],
            "duty": groups[Role.CSPA_DUTY_WORKER],
            "cspa_manager": groups[Role.CSPA_MANAGER],
        },
    )
    cursor.execute(
        """
        UPDATE ehe_register_localauthority la
        SET front_door_email = 'front-door-' || la.dfe_code || '@example.org',
            sen_team_email = 'sen-' || la.dfe_code || '@example.org',
            ehe_team_email = 'ehe-' || la.dfe_code || '@example.org', ehe_team_phone = '01632 960000',
            absence_cover = CASE WHEN la.dfe_code::int %% 2 = 0 THEN 'least_loaded' ELSE 'team_queue' END
        FROM bench_plan bp WHERE bp.la_id = la.id
        """,
        p,
    )
    # About one officer in twenty is absent today; one in seven was absent last month.
    cursor.execute(
        """
        INSERT INTO ehe_register_absence (starts_on, ends_on, kind, recorded_at, officer_id, recorded_by_id)
        SELECT %(today)s - 2, %(today)s + 3, 'unexpected', %(as_of)s, bp.officer_lo + i, bp.manager_id
        FROM bench_plan bp, generate_series(0, bp.officers - 1) i WHERE (bp.officer_lo + i) %% 20 = 3
        UNION ALL
        SELECT %(today)s - 40, %(today)s - 30, 'planned', %(as_of)s, bp.officer_lo + i, bp.manager_id
        FROM bench_plan bp, generate_series(0, bp.officers - 1) i WHERE (bp.officer_lo + i) %% 7 = 0
        """,
        p,
    )
    cursor.execute(
        f"""
        INSERT INTO ehe_register_school (id, urn, establishment_number, name, type_name, phase, is_special,
            postcode, opened_on, closed_on, local_authority_id)
        SELECT bp.school_lo + i, lpad((100000 + bp.school_lo + i - {school_base})::text, 6, '0'),
               lpad((2000 + i)::text, 4, '0'),
               {_pick(STREETS, 3, "i")} || ' ' || CASE WHEN i %% 5 = 0 THEN 'Academy' ELSE 'Primary School' END
                   || ' ' || bp.dfe_code || '-' || i,
               'Academy converter', CASE WHEN i %% 5 = 0 THEN 'Secondary' ELSE 'Primary' END, i %% 40 = 0,
               'ME' || (1 + i %% 20) || ' ' || (i %% 10) || 'AB', DATE '2000-09-01', NULL, bp.la_id
        FROM bench_plan bp, generate_series(0, bp.schools - 1) i
        """,
        p,
    )
    # Four school users at schools of the largest real LA (the submission benchmark's clients).
    largest = max(plans[:-1], key=lambda pl: pl.children)
    cursor.execute(
        """
        WITH made AS (
            INSERT INTO ehe_register_user (id, password, is_superuser, username, first_name, last_name, email,
                is_staff, is_active, date_joined, phone, local_authority_id)
            SELECT %(base)s + i, '!', false, 'bench-school-' || i, 'Sam', 'Okafor-' || i,
                   'bench-school-' || i || '@example.org', false, true, %(as_of)s, '', NULL
            FROM generate_series(1, %(n)s) i
            RETURNING id
        ), linked AS (
            INSERT INTO ehe_register_user_schools (user_id, school_id)
            SELECT made.id, bp.school_lo + (made.id - %(base)s) FROM made, bench_plan bp WHERE bp.la_id = %(la)s
        )
        INSERT INTO ehe_register_user_groups (user_id, group_id) SELECT id, %(group)s FROM made
        """,
        {**p, "base": user_next, "n": SCHOOL_USERS, "la": largest.la_id, "group": groups[Role.SCHOOL_USER]},
    )

    child_base = _base(cursor, "ehe_register_child")
    p.update(cb=child_base)
    # g: the child's number across all LAs; bp: its LA's plan row.
    each_child = "FROM generate_series(1, %(total)s) g JOIN bench_plan bp ON g BETWEEN bp.lo AND bp.hi"
    cursor.execute(
        f"""
        INSERT INTO ehe_register_child (id, legal_first_name, legal_middle_names, legal_last_name,
            preferred_first_name, preferred_last_name, former_names, date_of_birth, sex, upn, former_upns,
            nhs_number, sen_status, social_care_status, social_worker_email, confidential_address,
            interpreter_needed, language, contact_preferences, school_year_group, created_at, updated_at,
            local_authority_id)
        SELECT %(cb)s + g, {_pick(FIRST_NAMES, 11)}, '', {_pick(LAST_NAMES, 12)},
               CASE WHEN {_r(13)} < 0.05 THEN {_pick(FIRST_NAMES, 14)} ELSE '' END, '', '[]'::jsonb,
               %(today)s - (1900 + floor({_r(15)} * 4000))::int,
               CASE WHEN g %% 2 = 0 THEN 'F' ELSE 'M' END, '', '[]'::jsonb, '',
               CASE WHEN {_r(16)} < 0.04 THEN 'ehcp' WHEN {_r(16)} < 0.12 THEN 'sen_support' ELSE 'none' END,
               CASE WHEN {_r(17)} < 0.005 THEN 's47_open' WHEN {_r(17)} < 0.01 THEN 'looked_after'
                    WHEN {_r(17)} < 0.02 THEN 'child_protection_plan' WHEN {_r(17)} < 0.05 THEN 'child_in_need'
                    ELSE 'none' END,
               CASE WHEN {_r(17)} < 0.05 AND g %% 3 = 0 THEN 'social-worker-' || g || '@example.org' ELSE '' END,
               {_r(18)} < 0.01, {_r(19)} < 0.03, CASE WHEN {_r(19)} < 0.03 THEN 'Polish' ELSE '' END, '', '',
               %(as_of)s, %(as_of)s, bp.la_id
        {each_child}
        """,
        p,
    )
    person_base = _base(cursor, "ehe_register_person")
    p.update(pb=person_base)
    cursor.execute(
        f"""
        INSERT INTO ehe_register_person (id, first_name, last_name, emergency_phone, other_phone, email, created_at,
            updated_at, local_authority_id, address_line_1, address_line_2, address_town, postcode)
        SELECT %(pb)s + g, {_pick(FIRST_NAMES, 21)}, {_pick(LAST_NAMES, 12)},
               '07700 9' || lpad((g %% 100000)::text, 5, '0'), '',
               CASE WHEN g %% 3 = 0 THEN 'parent' || g || '@example.org' ELSE '' END, %(as_of)s, %(as_of)s, bp.la_id,
               '', '', '', ''
        {each_child}
        """,
        p,
    )
    # Each child's own parent; one child in seven is also linked to the previous child's parent
    # (siblings, within one LA).
    cursor.execute(
        f"""
        INSERT INTO ehe_register_childperson (relationship, parental_responsibility, lives_with_child,
            is_educating_parent, educating_hours_per_week, child_id, person_id)
        SELECT 'mother', true, true, true, 20.0, %(cb)s + g, %(pb)s + g {each_child}
        UNION ALL
        SELECT 'father', true, true, false, NULL, %(cb)s + g, %(pb)s + g - 1 {each_child}
        WHERE g > bp.lo AND g %% 7 = 0
        """,
        p,
    )
    address_base = _base(cursor, "ehe_register_address")
    p.update(ab=address_base)
    cursor.execute(
        f"""
        INSERT INTO ehe_register_address (id, kind, line_1, line_2, town, county, postcode, uprn, valid_from,
            valid_to, created_at, child_id, local_authority_id)
        SELECT %(ab)s + g, 'current', (1 + g %% 200) || ' ' || {_pick(STREETS, 31)}, '', {_pick(TOWNS, 32)}, '',
               chr(65 + (g %% 26)::int) || chr(65 + ((g / 26) %% 26)::int) || (1 + g %% 9) || ' '
                   || (g %% 10) || chr(65 + ((g / 7) %% 26)::int) || chr(65 + ((g / 11) %% 26)::int),
               '', %(today)s - 400, NULL, %(as_of)s, %(cb)s + g, bp.la_id
        {each_child}
        UNION ALL
        SELECT %(ab)s + %(total)s + g, 'previous', (1 + g %% 90) || ' ' || {_pick(STREETS, 33)}, '', 'Leeds', '',
               'LS1 ' || (g %% 10) || 'AA', '', %(today)s - 1500, %(today)s - 401, %(as_of)s, %(cb)s + g, bp.la_id
        {each_child} WHERE {_r(34)} < 0.2
        """,
        p,
    )
    _episodes(cursor, p, each_child)


def _episodes(cursor: Any, p: dict[str, Any], each_child: str) -> None:
    """Current episodes (every state), earlier closed ones, their logs, activities, checks and escalations."""
    episode_base = _base(cursor, "workflows_episode")
    p.update(eb=episode_base)
    reasons = list(ReasonCode.objects.order_by("order", "code").values_list("code", flat=True))
    # A working table of the episodes to write: one current per child, and for one child in eight
    # an earlier, closed one. e: episode id; st: its state; k: the row number hashed for values.
    cursor.execute(
        f"""
        CREATE TEMP TABLE bench_ep ON COMMIT DROP AS
        SELECT %(eb)s + g AS e, g, g AS k, %(cb)s + g AS child_id, bp.la_id, bp.officers, bp.officer_lo,
               bp.manager_id, bp.schools, bp.school_lo, ({_state_case(41)})::text AS st, true AS current
        {each_child}
        UNION ALL
        SELECT %(eb)s + %(total)s + g, g, g + %(total)s, %(cb)s + g, bp.la_id, bp.officers, bp.officer_lo,
               bp.manager_id, bp.schools, bp.school_lo, 'closed', false
        {each_child} WHERE {_r(42)} < {EARLIER_EPISODE_SHARE}
        """,
        p,
    )
    cursor.execute("CREATE INDEX ON bench_ep (e)")
    cursor.execute("ANALYZE bench_ep")
    k = "k"
    received_days = f"""CASE
        WHEN st = 'notified' THEN floor({_r(51, k)} * 2)
        WHEN st IN ('safeguarding_review', 'awaiting_consent', 'address_verification') THEN floor({_r(51, k)} * 120)
        WHEN st IN ('education_enquiry', 'missing_education') THEN 30 + floor({_r(51, k)} * 300)
        WHEN NOT current THEN 800 + floor({_r(51, k)} * 1500)
        ELSE 60 + floor({_r(51, k)} * 670) END"""
    verified = "('education_enquiry', 'monitoring', 'review_due', 's437_notice', 'attendance_order', 'closed')"
    contacted = f"st NOT IN ('notified', 'safeguarding_review', 'awaiting_consent', 'address_verification') OR {_r(55, k)} < 0.5"
    active = "st <> 'closed'"
    cursor.execute(
        f"""
        INSERT INTO workflows_episode (id, local_authority_id, child_id, state, source, source_detail,
            opened_by_school_id, received_on, opened_at, assigned_officer_id, priority, next_action_due,
            review_due_on, reason_code, concern_at_intake, special_school_placed_by_la, attendance_order_in_force,
            contacts_verified_at, contacts_stale_at, first_contact_at, child_seen_at_home_at, resume_state,
            s437_served_on, s437_served_how, attendance_order_served_on, closure_reason, closure_text,
            closed_with_concerns, closed_at, state_before_merge, merged_into_id, version, last_changed_by_id,
            last_changed_at)
        SELECT e, la_id, child_id, st,
               CASE WHEN {_r(52, k)} < 0.7 THEN 'school' WHEN {_r(52, k)} < 0.85 THEN 'parent'
                    WHEN {_r(52, k)} < 0.95 THEN 'other_agency' ELSE 'officer' END, '',
               CASE WHEN {_r(52, k)} < 0.7 THEN school_lo + (k %% schools) END,
               received_on, (received_on + time '10:00') AT TIME ZONE 'Europe/London',
               CASE WHEN st = 'notified' OR {_r(53, k)} < 0.15 THEN NULL ELSE officer_lo + (k %% officers) END,
               CASE WHEN st = 'safeguarding_review' THEN 2 WHEN {_r(54, k)} < 0.1 THEN 1 ELSE 0 END,
               CASE WHEN {active} THEN %(today)s + (floor({_r(56, k)} * 731) - 365)::int END,
               CASE WHEN st IN ('monitoring') THEN %(today)s + (floor({_r(57, k)} * 731) - 365)::int
                    WHEN st = 'review_due' THEN %(today)s + (floor({_r(57, k)} * 60) - 40)::int END,
               {_pick(reasons, 58, k)},
               st = 'safeguarding_review' AND {_r(59, k)} < 0.4 OR {active} AND {_r(59, k)} < 0.005,
               st = 'awaiting_consent' AND {_r(60, k)} < 0.7, st = 'awaiting_consent' AND {_r(60, k)} >= 0.7,
               CASE WHEN st IN {verified} AND NOT stale
                    THEN (%(today)s - 1 - floor({_r(61, k)} * 540)::int + time '09:00'
                          + make_interval(mins => floor({_r(72, k)} * 480)::int)) AT TIME ZONE 'Europe/London' END,
               CASE WHEN stale THEN %(as_of)s - make_interval(days => floor({_r(62, k)} * 60)::int) END,
               CASE WHEN {contacted} THEN (received_on + 5 + time '11:00') AT TIME ZONE 'Europe/London' END,
               CASE WHEN ({contacted}) AND {_r(63, k)} < 0.3 THEN (received_on + 12 + time '14:00') AT TIME ZONE 'Europe/London' END,
               CASE WHEN st = 'safeguarding_review' THEN 'address_verification' ELSE '' END,
               CASE WHEN st IN ('s437_notice', 'attendance_order') THEN received_on + 60 END,
               CASE WHEN st IN ('s437_notice', 'attendance_order') THEN 'By hand' ELSE '' END,
               CASE WHEN st = 'attendance_order' THEN received_on + 80 END,
               CASE WHEN st = 'closed' THEN 'returned_to_school' ELSE '' END, '',
               st = 'closed' AND {_r(64, k)} < 0.03,
               CASE WHEN st = 'closed' THEN (received_on + 200 + time '15:00') AT TIME ZONE 'Europe/London' END,
               '', NULL, 1 + steps, NULL, (received_on + 1 + time '09:30') AT TIME ZONE 'Europe/London'
        FROM (
            SELECT x.*, %(today)s - ({received_days})::int AS received_on,
                   (st IN ('monitoring', 'review_due', 'education_enquiry') AND {_r(65, k)} < 0.03
                    OR st = 'address_verification' AND {_r(65, k)} < 0.2) AS stale,
                   path.steps
            FROM bench_ep x JOIN (VALUES {", ".join(f"('{s}', {len(v)})" for s, v in PATHS.items())})
                AS path(state, steps) ON path.state = x.st
        ) y
        ORDER BY e
        """,
        p,
    )
    path_rows = ", ".join(
        f"('{state}', {step}, '{t}', '{a}', '{b}')"
        for state, steps in PATHS.items()
        for step, (t, a, b) in enumerate(steps, start=1)
    )
    cursor.execute(
        f"""
        INSERT INTO workflows_transitionlog (episode_id, from_state, to_state, transition, actor_id, actor_name,
            reason, payload, at)
        SELECT ep.id, path.from_state, path.to_state, path.transition, NULL, 'Benchmark data builder', '',
               '{{}}'::jsonb, (ep.received_on + (path.step * 20) + time '10:00') AT TIME ZONE 'Europe/London'
        FROM workflows_episode ep
        JOIN (VALUES {path_rows}) AS path(state, step, transition, from_state, to_state) ON path.state = ep.state
        WHERE ep.id > %(eb)s
        ORDER BY ep.id, path.step
        """,
        p,
    )
    # A first contact's call (and a visit where the child was seen) for the cases that record one.
    cursor.execute(
        """
        INSERT INTO workflows_activity (kind, occurred_at, summary, outcome, recorded_at, child_seen,
            child_seen_alone, child_views, safeguarding_concern, recorded_by_id, episode_id)
        SELECT 'phone_call', ep.first_contact_at, 'Spoke with the parent about their plans', 'parent_reached',
               ep.first_contact_at, false, false, '', false, COALESCE(ep.assigned_officer_id, x.manager_id), ep.id
        FROM workflows_episode ep JOIN bench_ep x ON x.e = ep.id WHERE ep.first_contact_at IS NOT NULL
        UNION ALL
        SELECT 'home_visit', ep.child_seen_at_home_at, 'Home visit: learning space and work seen', 'parent_reached',
               ep.child_seen_at_home_at, true, false, 'Enjoys learning at home', false,
               COALESCE(ep.assigned_officer_id, x.manager_id), ep.id
        FROM workflows_episode ep JOIN bench_ep x ON x.e = ep.id WHERE ep.child_seen_at_home_at IS NOT NULL
        """,
        p,
    )
    cursor.execute(
        """
        INSERT INTO ehe_register_addresscheck (method, outcome, checked_at, notes, address_id, checked_by_id,
            episode_id, school_id)
        SELECT m.method, 'confirmed', ep.contacts_verified_at - m.before, '', %(ab)s + x.g, ep.assigned_officer_id,
               ep.id, NULL
        FROM workflows_episode ep JOIN bench_ep x ON x.e = ep.id,
             (VALUES ('family', interval '1 day'), ('home_visit', interval '0')) AS m(method, before)
        WHERE ep.contacts_verified_at IS NOT NULL
        """,
        p,
    )
    _escalations(cursor, p)
    for table in ("ehe_register_user", "ehe_register_school", "ehe_register_child", "ehe_register_person",
                  "ehe_register_address", "workflows_episode"):  # fmt: skip
        _reset_sequence(cursor, table)


def _escalations(cursor: Any, p: dict[str, Any]) -> None:
    """Open escalations: on every case in safeguarding review, and on about one active case in 25,
    the rule its state suggests, at level 1 to the rule's top, each with its events."""
    ladder = []
    for name, rule in RULES.items():
        for level, rung in enumerate(rule.rungs, start=1):
            to_assigned = rung.owner == Owner.ASSIGNED_OFFICER
            ladder.append(
                f"('{name}', {level}, {rule.top_level}, '{'' if to_assigned else rung.owner}', {str(to_assigned).lower()})"
            )
    by_state = ", ".join(f"('{s}', '{r}')" for s, r in ESCALATION_BY_STATE.items())
    k = "ep.id"
    cursor.execute(
        f"""
        CREATE TEMP TABLE bench_esc ON COMMIT DROP AS
        SELECT ep.id AS episode_id, ep.local_authority_id, ep.assigned_officer_id,
               CASE WHEN ep.state = 'safeguarding_review' AND ep.concern_at_intake THEN 'concern_ticked'
                    ELSE s.rule END AS rule,
               {_r(71, k)} AS r
        FROM workflows_episode ep JOIN (VALUES {by_state}) AS s(state, rule) ON s.state = ep.state
        WHERE ep.id > %(eb)s
          AND (ep.state = 'safeguarding_review' OR {_r(70, k)} < {OPEN_ESCALATION_SHARE})
        """,
        p,
    )
    cursor.execute(
        f"""
        WITH ladder AS (
            SELECT * FROM (VALUES {", ".join(ladder)}) AS l(rule, level, top, owner_role, to_assigned)
        ), made AS (
            INSERT INTO workflows_escalation (rule, level, owner_role, recipients, raised_at, due_at, acknowledged_at,
                decision, decision_reference, decision_note, resolved_at, resolved_by_name, acknowledged_by_id,
                episode_id, local_authority_id, owner_user_id)
            SELECT b.rule, l.level,
                   CASE WHEN NOT l.to_assigned THEN l.owner_role
                        WHEN b.assigned_officer_id IS NULL THEN %(team)s ELSE '' END,
                   '[]'::jsonb, %(as_of)s - make_interval(days => 5 + l.level * 5),
                   %(as_of)s + make_interval(hours => floor(b.r * 480)::int - 240),
                   CASE WHEN b.r > 0.8 THEN %(as_of)s - interval '1 day' END,
                   '', '', '', NULL, '', NULL, b.episode_id, b.local_authority_id,
                   CASE WHEN l.to_assigned THEN b.assigned_officer_id END
            FROM bench_esc b JOIN ladder l ON l.rule = b.rule AND l.level = 1 + floor(b.r * l.top)::int
            ORDER BY b.episode_id
            RETURNING id, level, raised_at
        )
        INSERT INTO workflows_escalationevent (escalation_id, kind, level, actor_name, note, at)
        SELECT id, CASE WHEN n = 1 THEN 'raised' ELSE 'climbed' END, n, 'Benchmark data builder', '',
               raised_at + make_interval(days => (n - 1) * 5)
        FROM made, generate_series(1, made.level) n
        """,
        {**p, "team": TEAM_QUEUE_ROLE.value},
    )


def as_of_default() -> datetime:
    """A fixed moment for the sweeps: 10:00 London on a Tuesday, close to the build."""
    now = datetime.now(LONDON).replace(hour=10, minute=0, second=0, microsecond=0)
    return now - timedelta(days=(now.weekday() - 1) % 7)
