"""factory_boy factories shared by the whole suite."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from ehe_register.models import Address, AddressKind, Child, LocalAuthority, Person, School, Sex, User
from ehe_register.roles import Role
from workflows.clocks import episodes_next_action_due_refresh
from workflows.models import AuditAction, AuditCase, AuditSample, Episode
from workflows.services.bulk import episodes_import
from workflows.services.intake import IntakeRecord
from workflows.states import ClosureReason, Source, State

TEST_PASSWORD = "correct-horse-battery-staple"


class LocalAuthorityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LocalAuthority
        django_get_or_create = ("dfe_code",)

    dfe_code = factory.Sequence(lambda n: f"{600 + n % 400:03d}")
    ons_code = factory.Sequence(lambda n: f"E99{n:06d}")
    name = factory.Sequence(lambda n: f"Testshire {n}")
    council_name = factory.LazyAttribute(lambda la: f"{la.name} Council")
    uses_service = True
    front_door_phone = "01632 960100"
    front_door_out_of_hours_phone = "01632 960101"
    front_door_email = "front.door@example.org"
    sen_team_email = "sen@example.org"
    ehe_team_email = "ehe@example.org"
    ehe_team_phone = "01632 960102"


class SchoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = School

    urn = factory.Sequence(lambda n: f"{100000 + n}")
    local_authority = factory.SubFactory(LocalAuthorityFactory)
    establishment_number = factory.Sequence(lambda n: f"{2000 + n % 8000:04d}")
    name = factory.Sequence(lambda n: f"Test School {n}")
    type_name = "Community school"
    phase = "Secondary"
    postcode = "GU1 1AA"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Alex"
    last_name = factory.Sequence(lambda n: f"Tester{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    local_authority = factory.SubFactory(LocalAuthorityFactory)
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, extracted: list[Role] | None, **kwargs: Any) -> None:
        if create and extracted:
            # get_or_create: transactional tests flush the groups the migration made.
            self.groups.add(*[Group.objects.get_or_create(name=r.value)[0] for r in extracted])

    @factory.post_generation
    def schools(self, create: bool, extracted: list[School] | None, **kwargs: Any) -> None:
        if create and extracted:
            self.schools.add(*extracted)
        if create:
            self.save()


def make_user(role: Role, la: LocalAuthority | None = None, **kwargs: Any) -> User:
    """A user holding one role: LA staff in ``la``, a school user at a new school in ``la``."""
    la = la or LocalAuthorityFactory()
    if role == Role.SCHOOL_USER:
        return UserFactory(local_authority=None, roles=[role], schools=[SchoolFactory(local_authority=la)], **kwargs)
    if role == Role.ADMINISTRATOR:
        return UserFactory(local_authority=None, roles=[role], is_staff=True, is_superuser=True, **kwargs)
    return UserFactory(local_authority=la, roles=[role], **kwargs)


# Children, their parents and carers, addresses, and episodes in any state.


class ChildFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Child

    local_authority = factory.SubFactory(LocalAuthorityFactory)
    legal_first_name = factory.Faker("first_name", locale="en_GB")
    legal_last_name = factory.Faker("last_name", locale="en_GB")
    # About 11: in Year 6 or Year 7, the age at which many children leave school for home education.
    date_of_birth = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=11 * 365 + 120))
    sex = factory.Iterator([Sex.FEMALE, Sex.MALE])
    upn = ""


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    local_authority = factory.SubFactory(LocalAuthorityFactory)
    first_name = factory.Faker("first_name", locale="en_GB")
    last_name = factory.Faker("last_name", locale="en_GB")
    emergency_phone = "07700 900123"
    email = factory.LazyAttribute(lambda p: f"{p.first_name}.{p.last_name}@example.com".lower().replace(" ", ""))


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    child = factory.SubFactory(ChildFactory)
    local_authority = factory.LazyAttribute(lambda a: a.child.local_authority)
    kind = AddressKind.CURRENT
    line_1 = factory.Faker("street_address", locale="en_GB")
    town = factory.Faker("city", locale="en_GB")
    postcode = factory.Faker("postcode", locale="en_GB")


def _state_defaults(state: str) -> dict[str, Any]:
    """Fields an episode in ``state`` would plausibly carry, had it got there through the machine."""
    today = timezone.localdate()
    now = timezone.now()
    verified = {"contacts_verified_at": now - timedelta(days=30)}
    return {
        State.SAFEGUARDING_REVIEW: {"resume_state": State.ADDRESS_VERIFICATION},
        State.EDUCATION_ENQUIRY: verified,
        State.MONITORING: {**verified, "review_due_on": today + timedelta(days=365)},
        State.REVIEW_DUE: {**verified, "review_due_on": today + timedelta(days=20)},
        State.S437_NOTICE: {**verified, "s437_served_on": today, "s437_served_how": "Hand delivered"},
        State.ATTENDANCE_ORDER: {
            **verified,
            "s437_served_on": today - timedelta(days=30),
            "s437_served_how": "First class post",
            "attendance_order_served_on": today - timedelta(days=10),
        },
        State.CLOSED: {
            "closure_reason": ClosureReason.OTHER,
            "closure_text": "Closed for a test",
            "closed_at": now,
        },
    }.get(state, {})


def make_episode(state: str, *, la: LocalAuthority | None = None, child: Child | None = None, **fields: Any) -> Episode:
    """An episode in ``state``, reached the way existing records enter the register.

    ``notified`` is created as intake creates it (before the risk check); every other state goes
    through ``episodes_import`` (the ``imported`` transition, with its TransitionLog row). Other
    columns (``fields``, over the state's plausible defaults) are then written with an update of
    those non-state columns. Pass ``la`` or ``child``; a new child (and LA) is made otherwise.
    """
    if "state" in fields:
        raise ValueError("Name the state as the first argument")
    if state not in State.values:
        raise ValueError(f"{state!r} is not a state")
    if child is None:
        child = ChildFactory(local_authority=la or LocalAuthorityFactory())
    la = child.local_authority
    received_on = fields.pop("received_on", timezone.localdate() - timedelta(days=3))
    if state == State.NOTIFIED:
        episode = Episode.objects.create(
            local_authority=la,
            child=child,
            source=fields.pop("source", Source.SCHOOL),
            received_on=received_on,
            opened_at=fields.pop("opened_at", timezone.now()),
            **fields,
        )
        return Episode.objects.get(pk=episode.pk)
    updates = {**_state_defaults(state), **fields}
    [episode] = episodes_import(
        records=[
            IntakeRecord(
                known_child_id=child.pk,
                local_authority_id=la.pk,
                source=Source.IMPORT,
                state=state,
                received_on=received_on,
                source_detail="Test records",
                # A date given here is the one the old system held: the import keeps it.
                next_action_due=updates.pop("next_action_due", None),
            )
        ],
        as_of=timezone.now(),
    )
    if updates:
        Episode.objects.filter(pk=episode.pk).update(**updates)
        # The clock reads the facts just written (a review date, a first contact, a service date).
        episodes_next_action_due_refresh(episode_ids=[episode.pk], as_of=timezone.now())
    return Episode.objects.get(pk=episode.pk)


def make_audit_action(episode: Episode, *, owner: User, due_on: date, manager: User | None = None) -> AuditAction:
    """An open quality-audit action on ``episode`` (its case sampled in the month the action is due),
    owned by ``owner`` and due on ``due_on``; written directly, past due dates allowed."""
    la = episode.local_authority
    manager = manager or make_user(Role.EHE_MANAGER, la)
    month = due_on.replace(day=1)
    sample, _ = AuditSample.objects.get_or_create(
        local_authority=la,
        month=month,
        defaults={"seed": 1, "size_per_officer": 2, "drawn_by": manager, "drawn_at": timezone.now()},
    )
    audit_case, _ = AuditCase.objects.get_or_create(
        sample=sample, episode=episode, defaults={"officer": episode.assigned_officer or owner}
    )
    return AuditAction.objects.create(
        audit_case=audit_case,
        local_authority=la,
        description="Record the summary of previous involvement",
        owner=owner,
        due_on=due_on,
        created_by=manager,
        created_at=timezone.now(),
    )
