"""Generators of Task and Event values; about a third of them archived.

Salesforce's archival process archives events whose date is 365 days old or more, closed tasks
whose due date is, and activities created more than 365 days ago, and ``query`` leaves them out
("queryAll()", https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_queryall.htm).
The archive flag belongs to the value pool, so an archived row always has an old due date and,
for a task, a closed status.
"""

from __future__ import annotations

import random

from tests.fake_salesforce.activity_schema import SUBJECTS, TASK_PRIORITIES
from tests.fake_salesforce.contact_data import _day, _maybe, _stamp
from tests.fake_salesforce.ids import IdSpace
from tests.fake_salesforce.pools import Generator
from tests.fake_salesforce.values import Typed

ARCHIVED_SHARE = 0.35
MS_PER_MINUTE = 60_000
POOL_SIZES = {"activity": 997, "links": 991}
NOTES = (
    "Discussed referral volume.",
    'Left voicemail: "call back after 3pm"',
    "Follow-up on credentialing,\nsecond line of the note",
    "Sent the network brochure 📎",
)


def _archived(rng: random.Random) -> tuple[bool, int]:
    """Whether the variant is archived, and its due day (over a year old when archived)."""
    if rng.random() < ARCHIVED_SHARE:
        return True, _day(rng, 2021, 2)
    return False, _day(rng, 2025, 3)


def task(rng: random.Random, variant: int) -> dict[str, Typed]:
    """One task: archived ones are completed."""
    archived, due = _archived(rng)
    status = "Completed" if archived else rng.choice(("Not Started", "In Progress", "Completed"))
    is_call = rng.random() < 0.3
    return {
        "Subject": rng.choice(SUBJECTS),
        "ActivityDate": due,
        "Status": status,
        "Priority": rng.choice(TASK_PRIORITIES),
        "IsHighPriority": False,
        "Description": _maybe(rng, 0.4, rng.choice(NOTES)),
        "IsClosed": status == "Completed",
        "IsArchived": archived,
        "CallDurationInSeconds": rng.randint(20, 1800) if is_call else None,
        "CallType": rng.choice(("Inbound", "Outbound")) if is_call else None,
        "CallDisposition": "Reached" if is_call else None,
        "CallObject": None,
        "ReminderDateTime": None,
        "IsReminderSet": False,
        "TaskSubtype": "Call" if is_call else "Task",
        "CompletedDateTime": _stamp(rng) if status == "Completed" else None,
    }


def event(rng: random.Random, variant: int) -> dict[str, Typed]:
    """One event: archived ones lie over a year in the past."""
    archived, due = _archived(rng)
    minutes = rng.choice((15, 30, 60, 90))
    start = due * 86_400_000 + rng.randrange(8, 18) * 3_600_000
    return {
        "Subject": rng.choice(SUBJECTS),
        "Location": _maybe(rng, 0.5, rng.choice(("Clinic, room 2", "Video call", "HQ"))),
        "IsAllDayEvent": False,
        "ActivityDateTime": start,
        "ActivityDate": due,
        "DurationInMinutes": minutes,
        "StartDateTime": start,
        "EndDateTime": start + minutes * MS_PER_MINUTE,
        "EndDate": due,
        "Description": _maybe(rng, 0.4, rng.choice(NOTES)),
        "IsPrivate": rng.random() < 0.1,
        "ShowAs": "Busy",
        "IsChild": False,
        "IsGroupEvent": False,
        "GroupEventType": None,
        "IsArchived": archived,
        "IsRecurrence": False,
        "ReminderDateTime": None,
        "IsReminderSet": False,
        "EventSubtype": "Event",
    }


def make_links_generator(
    contacts: IdSpace,
    contact_rows: int,
    accounts: IdSpace,
    account_rows: int,
    user_ids: tuple[str, ...],
) -> Generator:
    """Who (a contact), what (an account) and the users."""

    def links(rng: random.Random, variant: int) -> dict[str, Typed]:
        account = accounts.id_of(rng.randrange(account_rows)) if account_rows else None
        who = contacts.id_of(rng.randrange(contact_rows)) if contact_rows else None
        return {
            "WhoId": _maybe(rng, 0.8, who),
            "WhatId": _maybe(rng, 0.6, account),
            "AccountId": account,
            "OwnerId": rng.choice(user_ids),
            "CreatedById": rng.choice(user_ids),
            "LastModifiedById": rng.choice(user_ids),
        }

    return links
