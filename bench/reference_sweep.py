"""The escalation rules of DESIGN section 5 as hand-written SQL: the yardstick for the product's sweep.

The benchmark runs this and ``workflows.sweeps.sweep_run`` on two copies of the same database at
the same ``as_of`` and compares their times. It does the same work the rules ask for, in one
transaction of plain statements over all LAs at once:

- contact details verified more than M months ago go stale, and cases in monitoring, review or
  enquiry move to address verification; monitoring cases whose review falls within W working days
  move to review due (each move bumps the version and writes its TransitionLog row);
- per rule, open escalations whose condition has cleared are resolved (safeguarding ones only by a
  decision) and new ones are raised where the condition holds and none is open (notify-only and
  fact rules once per episode), each with its EscalationEvent; a concern found by the sweep also
  moves the case to safeguarding review;
- cases of officers absent today with work due within five working days or an open escalation
  move to the team queue, or, where the LA gives them to the least-loaded officer, to the
  available officers in order of load; the EHE manager's notify-only escalation is written;
- unacknowledged escalations past their due time climb a rung on the same row;
- who is told, as DESIGN section 5 says it should be: a per-case message (in the service and by
  email) to an escalation's named owner only; the front door's inbox for the safeguarding rules;
  the SEN inbox and an allocated social worker by email. Escalations owned by a role or the team
  queue write no per-case message (they show in the queue and the digest).

This file writes ``Episode.state`` in SQL on a throwaway copy of a benchmark database only; it is
listed in ``tests/test_state_writes_lint.py`` with that reason. Nothing in the product calls it.
Thresholds computed on the working-day calendar come from Python (``workflows.sweeps.LaClock`` and
the rules' due-time functions), as in the product: the database's clock is never used.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from ehe_register.models import LocalAuthority
from ehe_register.roles import Role
from ehe_register.working_days import add_working_days
from workflows.escalation_rules import RULES, External, Owner
from workflows.sweeps import LaClock

ACTOR = "Reference sweep"
TEAM_ROLE = Role.EHE_OFFICER.value
ENQUIRY = (
    "('safeguarding_review', 'awaiting_consent', 'address_verification', 'education_enquiry', 'missing_education')"
)
UNVERIFIED = "e.contacts_verified_at IS NULL AND e.contacts_stale_at IS NULL"
ENQUIRY_OVERDUE = (
    f"e.state IN {ENQUIRY} AND e.received_on + la.first_contact_days <= c.today"
    " AND (e.first_contact_at IS NULL OR (la.home_check_duty_commenced AND e.child_seen_at_home_at IS NULL))"
)
REVIEW_OVERDUE = "e.state IN ('monitoring', 'review_due') AND e.review_due_on <= c.review_passed_by"
NEXT_ACTION_OVERDUE = (
    "e.next_action_due <= c.review_passed_by AND NOT EXISTS (SELECT 1 FROM workflows_escalation o"
    " WHERE o.episode_id = e.id AND o.resolved_at IS NULL"
    " AND o.rule NOT IN ('next_action_overdue', 'audit_action_overdue'))"
)
AUDIT_ACTION_OVERDUE = (
    "EXISTS (SELECT 1 FROM workflows_auditaction a JOIN workflows_auditcase ac ON ac.id = a.audit_case_id"
    " WHERE ac.episode_id = e.id AND a.completed_at IS NULL AND a.due_on <= c.review_passed_by)"
)
SOCIAL_CARE = "('child_in_need', 'child_protection_plan', 'looked_after', 's47_open')"

# rule: (fires, holds (None: only a decision resolves), once per episode)
CONDITIONS: dict[str, tuple[str, str | None, bool]] = {
    "concern_ticked": (
        "(e.concern_at_intake AND NOT EXISTS (SELECT 1 FROM workflows_escalation p"
        " WHERE p.episode_id = e.id AND p.rule = 'concern_ticked'))"
        " OR EXISTS (SELECT 1 FROM workflows_activity a WHERE a.episode_id = e.id AND a.safeguarding_concern"
        " AND a.recorded_at <= %(as_of)s AND NOT EXISTS (SELECT 1 FROM workflows_escalation p"
        " WHERE p.episode_id = e.id AND p.rule = 'concern_ticked'"
        " AND (p.resolved_at IS NULL OR p.raised_at >= a.occurred_at)))",
        None,
        False,
    ),
    "social_care_known": (
        f"ch.social_care_status IN {SOCIAL_CARE} OR EXISTS (SELECT 1 FROM workflows_episode o"
        " WHERE o.child_id = e.child_id AND o.id <> e.id AND o.closed_with_concerns)",
        None,
        True,
    ),
    "consent_required": ("e.state = 'awaiting_consent'", "e.state = 'awaiting_consent'", False),
    "sen_notify": ("ch.sen_status = 'ehcp'", None, True),
    "contacts_unverified": (
        f"{UNVERIFIED} AND e.received_on <= c.unverified_by",
        "e.contacts_verified_at IS NULL",
        False,
    ),
    "cme_enquiry": (f"{UNVERIFIED} AND e.received_on <= c.cme_by", "e.contacts_verified_at IS NULL", False),
    "contacts_stale": ("e.contacts_stale_at IS NOT NULL", "e.contacts_stale_at IS NOT NULL", False),
    "enquiry_overdue": (ENQUIRY_OVERDUE, ENQUIRY_OVERDUE, False),
    "review_overdue": (REVIEW_OVERDUE, REVIEW_OVERDUE, False),
    "audit_action_overdue": (AUDIT_ACTION_OVERDUE, AUDIT_ACTION_OVERDUE, False),
    # The catch-all, last: a clock run out where no other rule holds an open escalation.
    "next_action_overdue": (NEXT_ACTION_OVERDUE, NEXT_ACTION_OVERDUE, False),
}

CLOCK = (
    "jsonb_to_recordset(%(clock)s::jsonb) AS c(la_id bigint, today date, unverified_by date, cme_by date,"
    " review_horizon date, review_passed_by date, horizon date, least_loaded boolean)"
)
EPISODES = f"""workflows_episode e JOIN {CLOCK} ON c.la_id = e.local_authority_id
    JOIN ehe_register_localauthority la ON la.id = e.local_authority_id
    JOIN ehe_register_child ch ON ch.id = e.child_id"""


def _ladder(las: list[LocalAuthority], as_of: datetime) -> str:
    rows = []
    for la in las:
        for name, rule in RULES.items():
            for level, rung in enumerate(rule.rungs, start=1):
                rows.append(
                    {
                        "la_id": la.pk,
                        "rule": name,
                        "level": level,
                        "top": rule.top_level,
                        "notify_only": rule.notify_only,
                        "owner_role": ""
                        if rung.owner == Owner.ASSIGNED_OFFICER or isinstance(rung.owner, External)
                        else str(rung.owner),
                        "to_assigned": rung.owner == Owner.ASSIGNED_OFFICER,
                        "due_at": rung.due(as_of, la).isoformat() if rung.due else None,
                        "tell_social_worker": External.SOCIAL_WORKER in rung.also_tell,
                        "tell_sen": rung.owner == External.SEN_TEAM,
                        "tell_front_door": rule.safeguarding,
                    }
                )
    return json.dumps(rows)


LADDER = (
    "jsonb_to_recordset(%(ladder)s::jsonb) AS l(la_id bigint, rule text, level int, top int, notify_only boolean,"
    " owner_role text, to_assigned boolean, due_at timestamptz, tell_social_worker boolean, tell_sen boolean,"
    " tell_front_door boolean)"
)


def reference_sweep_run(*, as_of: datetime) -> dict[str, int]:
    """Apply every rule at ``as_of`` in plain SQL; returns what it did (raised, resolved, climbed, moved, told)."""
    las = list(LocalAuthority.objects.filter(uses_service=True).order_by("pk"))
    clock = []
    for la in las:
        la_clock = LaClock.of(la, as_of)
        row = la_clock.row()
        row["horizon"] = add_working_days(la_clock.today, 5).isoformat()
        row["least_loaded"] = la.absence_cover == "least_loaded"
        clock.append(row)
    params: dict[str, Any] = {"as_of": as_of, "clock": json.dumps(clock), "ladder": _ladder(las, as_of),
                              "actor": ACTOR, "team": TEAM_ROLE}  # fmt: skip
    done: dict[str, int] = {"raised": 0, "resolved": 0, "climbed": 0, "moved": 0, "told": 0}
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute("CREATE TEMP TABLE ref_told (escalation_id bigint) ON COMMIT DROP")

        def run(sql: str) -> int:
            cur.execute(sql, params)
            return cur.rowcount

        # Contacts go stale; cases in monitoring, review or enquiry go back to address verification.
        run("""
            UPDATE workflows_episode e SET contacts_stale_at = %(as_of)s, contacts_verified_at = NULL
            FROM ehe_register_localauthority la
            WHERE la.id = e.local_authority_id AND la.uses_service AND e.state NOT IN ('closed', 'notified')
              AND e.contacts_stale_at IS NULL
              AND e.contacts_verified_at < ((%(as_of)s::timestamptz AT TIME ZONE 'Europe/London')
                  - make_interval(months => la.contacts_stale_months)) AT TIME ZONE 'Europe/London'
        """)
        done["moved"] += _move(run, "contacts_went_stale", "address_verification",
                               "e.contacts_stale_at IS NOT NULL AND e.state IN ('monitoring', 'review_due', 'education_enquiry')")  # fmt: skip
        done["moved"] += _move(run, "review_falls_due", "review_due",
                               "e.state = 'monitoring' AND e.review_due_on <= c.review_horizon")  # fmt: skip
        for rule, (fires, holds, once) in CONDITIONS.items():
            params["rule"] = rule
            if holds is not None:
                done["resolved"] += run(f"""
                    WITH cleared AS (
                        UPDATE workflows_escalation x SET resolved_at = %(as_of)s, resolved_by_name = %(actor)s,
                            decision_note = 'Resolved automatically'
                        FROM {EPISODES}
                        WHERE e.id = x.episode_id AND x.rule = %(rule)s AND x.resolved_at IS NULL
                          AND NOT COALESCE(e.state <> 'closed' AND ({holds}), false)
                        RETURNING x.id, x.level
                    )
                    INSERT INTO workflows_escalationevent (escalation_id, kind, level, actor_name, note, at)
                    SELECT id, 'resolved', level, %(actor)s, '', %(as_of)s FROM cleared
                """)
            not_open = "" if once else "AND p.resolved_at IS NULL"
            if rule == "concern_ticked":
                # The event's transition as well: the case goes to the front door.
                cur.execute(
                    f"""
                    CREATE TEMP TABLE ref_concern ON COMMIT DROP AS
                    SELECT e.id FROM {EPISODES}
                    WHERE e.state NOT IN ('closed', 'notified') AND ({fires})
                """,
                    params,
                )
                done["moved"] += _move(run, "concern_raised", "safeguarding_review",
                                       "e.id IN (SELECT id FROM ref_concern) AND e.state <> 'safeguarding_review'",
                                       resume=True)  # fmt: skip
                candidates = "e.id IN (SELECT id FROM ref_concern)"
            else:
                candidates = f"e.state NOT IN ('closed', 'notified') AND ({fires})"
            done["raised"] += _raise(run, candidates, not_open)
        done["moved"] += _absence_cover(run, params)
        done["climbed"] += run(f"""
            WITH climbed AS (
                UPDATE workflows_escalation x
                SET level = x.level + 1,
                    owner_role = CASE WHEN NOT l.to_assigned THEN l.owner_role
                                      WHEN e.assigned_officer_id IS NULL THEN %(team)s ELSE '' END,
                    owner_user_id = CASE WHEN l.to_assigned THEN e.assigned_officer_id END, due_at = l.due_at
                FROM {LADDER}, workflows_episode e
                WHERE l.rule = x.rule AND l.level = x.level + 1 AND l.la_id = x.local_authority_id
                  AND e.id = x.episode_id AND x.resolved_at IS NULL AND x.acknowledged_at IS NULL
                  AND x.due_at <= %(as_of)s
                RETURNING x.id, x.level
            ), logged AS (
                INSERT INTO workflows_escalationevent (escalation_id, kind, level, actor_name, note, at)
                SELECT id, 'climbed', level, %(actor)s, '', %(as_of)s FROM climbed
            )
            INSERT INTO ref_told SELECT id FROM climbed
        """)
        done["told"] = _tell(run)
    return done


def _move(run: Any, transition: str, target: str, where: str, resume: bool = False) -> int:
    resume_sql = ", resume_state = c.state" if resume else ""
    return int(
        run(f"""
        WITH candidates AS (
            SELECT e.id, e.state FROM workflows_episode e JOIN {CLOCK} ON c.la_id = e.local_authority_id
            WHERE {where} ORDER BY e.id FOR UPDATE OF e
        ), moved AS (
            UPDATE workflows_episode e SET state = '{target}', version = e.version + 1, last_changed_at = %(as_of)s
                {resume_sql}
            FROM candidates c WHERE c.id = e.id
            RETURNING e.id, c.state AS from_state
        )
        INSERT INTO workflows_transitionlog
            (episode_id, from_state, to_state, transition, actor_id, actor_name, reason, payload, at)
        SELECT id, from_state, '{target}', '{transition}', NULL, %(actor)s, '', '{{}}'::jsonb, %(as_of)s FROM moved
    """)
    )


def _raise(run: Any, candidates: str, not_open: str) -> int:
    return int(
        run(f"""
        WITH made AS (
            INSERT INTO workflows_escalation (episode_id, local_authority_id, rule, level, owner_role, owner_user_id,
                recipients, raised_at, due_at, decision, decision_reference, decision_note, resolved_at,
                resolved_by_name)
            SELECT e.id, e.local_authority_id, %(rule)s, 1,
                   CASE WHEN NOT l.to_assigned THEN l.owner_role
                        WHEN e.assigned_officer_id IS NULL THEN %(team)s ELSE '' END,
                   CASE WHEN l.to_assigned THEN e.assigned_officer_id END, '[]'::jsonb, %(as_of)s, l.due_at,
                   '', '', '', CASE WHEN l.notify_only THEN %(as_of)s::timestamptz END,
                   CASE WHEN l.notify_only THEN %(actor)s ELSE '' END
            FROM {EPISODES}
            JOIN {LADDER} ON l.la_id = e.local_authority_id AND l.rule = %(rule)s AND l.level = 1
            WHERE {candidates}
              AND NOT EXISTS (SELECT 1 FROM workflows_escalation p
                              WHERE p.episode_id = e.id AND p.rule = %(rule)s {not_open})
            ON CONFLICT (episode_id, rule) WHERE resolved_at IS NULL DO NOTHING
            RETURNING id, level
        ), logged AS (
            INSERT INTO workflows_escalationevent (escalation_id, kind, level, actor_name, note, at)
            SELECT id, 'raised', level, %(actor)s, '', %(as_of)s FROM made
        )
        INSERT INTO ref_told SELECT id FROM made
    """)
    )


def _absence_cover(run: Any, params: dict[str, Any]) -> int:
    """Cases of officers absent today with work due soon or an open escalation: to the team queue,
    or to the available officers in order of load (the LA's choice)."""
    params["rule"] = "officer_absent"
    moved = run(f"""
        CREATE TEMP TABLE ref_moves ON COMMIT DROP AS
        WITH absent AS (
            SELECT e.id, e.local_authority_id AS la_id, e.assigned_officer_id AS from_id, c.least_loaded,
                   row_number() OVER (PARTITION BY e.local_authority_id ORDER BY e.next_action_due, e.id) AS n
            FROM workflows_episode e JOIN {CLOCK} ON c.la_id = e.local_authority_id
            WHERE e.state <> 'closed' AND e.assigned_officer_id IS NOT NULL
              AND EXISTS (SELECT 1 FROM ehe_register_absence a WHERE a.officer_id = e.assigned_officer_id
                          AND a.starts_on <= c.today AND (a.ends_on IS NULL OR a.ends_on >= c.today))
              AND (e.next_action_due <= c.horizon OR EXISTS (
                  SELECT 1 FROM workflows_escalation x WHERE x.episode_id = e.id AND x.resolved_at IS NULL))
        ), available AS (
            SELECT u.local_authority_id AS la_id, u.id,
                   row_number() OVER (PARTITION BY u.local_authority_id ORDER BY count(e.id), u.id) - 1 AS rank,
                   count(*) OVER (PARTITION BY u.local_authority_id) AS n_available
            FROM ehe_register_user u
            JOIN ehe_register_user_groups ug ON ug.user_id = u.id
            JOIN auth_group g ON g.id = ug.group_id AND g.name = %(team)s
            JOIN {CLOCK} ON c.la_id = u.local_authority_id
            LEFT JOIN workflows_episode e ON e.assigned_officer_id = u.id AND e.state <> 'closed'
                 AND e.next_action_due <= c.horizon
            WHERE u.is_active AND NOT EXISTS (
                SELECT 1 FROM ehe_register_absence a WHERE a.officer_id = u.id
                AND a.starts_on <= c.today AND (a.ends_on IS NULL OR a.ends_on >= c.today))
            GROUP BY u.local_authority_id, u.id
        )
        SELECT a.id, a.from_id, CASE WHEN a.least_loaded THEN v.id END AS to_id
        FROM absent a LEFT JOIN available v ON v.la_id = a.la_id AND v.rank = (a.n - 1) %% v.n_available
    """)
    run("""
        UPDATE workflows_episode e SET assigned_officer_id = m.to_id, version = e.version + 1,
            last_changed_at = %(as_of)s
        FROM ref_moves m WHERE m.id = e.id
    """)
    run("""
        UPDATE workflows_escalation x
        SET owner_user_id = m.to_id, owner_role = CASE WHEN m.to_id IS NULL THEN %(team)s ELSE '' END
        FROM ref_moves m
        WHERE x.episode_id = m.id AND x.resolved_at IS NULL AND x.owner_user_id = m.from_id
    """)
    _raise(run, "e.id IN (SELECT id FROM ref_moves)", "AND false")
    return int(moved)


def _tell(run: Any) -> int:
    """The messages DESIGN section 5 asks for: the named owner (both channels), the owners of
    overdue quality-audit actions by name (both channels), and the inboxes."""
    return int(
        run(f"""
        WITH told AS (
            SELECT x.id, x.rule, x.level, x.episode_id, x.owner_user_id, la.id AS la_id, la.dfe_code,
                   la.front_door_email, la.sen_team_email, ch.social_worker_email
            FROM ref_told t JOIN workflows_escalation x ON x.id = t.escalation_id
            JOIN ehe_register_localauthority la ON la.id = x.local_authority_id
            JOIN workflows_episode e ON e.id = x.episode_id JOIN ehe_register_child ch ON ch.id = e.child_id
        ), out AS (
            SELECT t.*, ch.channel, t.owner_user_id AS user_id, '' AS email, 'owner' AS who
            FROM told t, (VALUES ('in_app'), ('email')) AS ch(channel) WHERE t.owner_user_id IS NOT NULL
            UNION ALL
            SELECT t.*, 'email', NULL, t.front_door_email, 'front_door' FROM told t
            WHERE t.rule IN ('concern_ticked', 'social_care_known') AND t.front_door_email <> ''
            UNION ALL
            SELECT t.*, 'email', NULL, t.sen_team_email, 'sen' FROM told t
            WHERE t.rule = 'sen_notify' AND t.sen_team_email <> ''
            UNION ALL
            SELECT t.*, 'email', NULL, t.social_worker_email, 'social_worker' FROM told t
            WHERE t.rule = 'social_care_known' AND t.level = 1 AND t.social_worker_email <> ''
            UNION ALL
            SELECT DISTINCT t.*, ch.channel, a.owner_id, '', 'audit_owner:' || a.owner_id
            FROM told t JOIN {CLOCK} ON c.la_id = t.la_id
            JOIN workflows_auditcase ac ON ac.episode_id = t.episode_id
            JOIN workflows_auditaction a ON a.audit_case_id = ac.id
            JOIN ehe_register_user u ON u.id = a.owner_id AND u.is_active,
                 (VALUES ('in_app'), ('email')) AS ch(channel)
            WHERE t.rule = 'audit_action_overdue' AND t.level = 1 AND a.completed_at IS NULL
              AND a.due_on <= c.review_passed_by
        )
        INSERT INTO notifications_message (channel, recipient_user_id, recipient_email, local_authority_id, template,
            payload, status, attempts, next_attempt_at, last_error, created_at, idempotency_key)
        SELECT channel, user_id, email, la_id, 'emails/escalation',
               jsonb_build_object('rule', rule, 'level', level, 'episode_id', episode_id,
                                  'case_reference', 'EHE-' || dfe_code || '-C' || lpad(episode_id::text, 6, '0')),
               'pending', 0, %(as_of)s, '', %(as_of)s,
               'reference:' || id || ':' || level || ':' || who || ':' || channel
        FROM out
        ON CONFLICT (idempotency_key) DO NOTHING
    """)
    )
