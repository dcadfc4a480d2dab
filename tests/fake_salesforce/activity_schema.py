"""Task and Event: activities, some of them archived (opt-in: ``FakeSalesforce(tasks=, events=)``).

Fields, types and lengths follow the Task and Event pages of the Object Reference
(https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_task.htm,
https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_event.htm)
and, for Event, a describe captured from a real org (CumulusCI's cassette, see
/work/shared/real-salesforce/PROVENANCE.md): ``Subject`` is a ``combobox``, ``WhoId``/``WhatId``/
``OwnerId`` are polymorphic, picklists are 40 long, ``Description`` is a 32,000-character text
area. ``IsArchived`` is what ``query`` hides: "You cannot use query() as it automatically filters
out all records where isArchived is set to true" ("queryAll()",
https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_queryall.htm).
"""

from __future__ import annotations

from tests.fake_salesforce.fields import FieldSpec, reference, simple, text, textarea
from tests.fake_salesforce.vocabulary import FieldType as T

_ROW = "row"  # Id, IsDeleted and the stamps are computed per row
ACTIVITY = "activity"  # subject, dates, status and the archive flag vary together
LINKS = "links"  # lookups to contacts and accounts (depends on their row counts)
ACTIVITY_PICKLIST_LENGTH = 40
LONG_DESCRIPTION_LENGTH = 32_000
SUBJECTS = ("Call", "Email", "Meeting", "Send Letter/Quote", "Other")
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
TASK_PRIORITIES = ("High", "Normal", "Low")


def _picklist(name: str, label: str, values: tuple[str, ...], **kw: object) -> FieldSpec:
    return FieldSpec(
        name,
        T.PICKLIST,
        label,
        length=ACTIVITY_PICKLIST_LENGTH,
        picklist=values,
        group=ACTIVITY,
        **kw,  # type: ignore[arg-type]
    )


def _polymorphic(
    name: str, label: str, targets: tuple[str, ...], relationship: str, *, nillable: bool = True
) -> FieldSpec:
    return FieldSpec(
        name,
        T.REFERENCE,
        label,
        length=18,
        nillable=nillable,
        reference_to=targets,
        relationship_name=relationship,
        group=LINKS,
        extra={"polymorphicForeignKey": True},
    )


def _audit() -> list[FieldSpec]:
    return [
        simple("IsDeleted", "Deleted", T.BOOLEAN, _ROW, nillable=False, system=True),
        simple("CreatedDate", "Created Date", T.DATETIME, _ROW, nillable=False, system=True),
        reference("CreatedById", "Created By ID", "User", "CreatedBy", LINKS, nillable=False, system=True),
        simple("LastModifiedDate", "Last Modified Date", T.DATETIME, _ROW, nillable=False, system=True),
        reference(
            "LastModifiedById", "Last Modified By ID", "User", "LastModifiedBy", LINKS,
            nillable=False, system=True,
        ),
        simple("SystemModstamp", "System Modstamp", T.DATETIME, _ROW, nillable=False, system=True),
        simple("IsArchived", "Archived", T.BOOLEAN, ACTIVITY, nillable=False, system=True),
    ]  # fmt: skip


def _id(label: str) -> FieldSpec:
    return FieldSpec(
        "Id", T.ID, label, length=18, nillable=False, updateable=False, system=True, group=_ROW
    )


def _subject() -> FieldSpec:
    return FieldSpec(
        "Subject",
        T.COMBOBOX,
        "Subject",
        length=255,
        picklist=SUBJECTS,
        group=ACTIVITY,
        name_field=True,
    )


TASK_FIELDS: tuple[FieldSpec, ...] = (
    _id("Activity ID"),
    _polymorphic("WhoId", "Name ID", ("Contact", "Lead"), "Who"),
    _polymorphic("WhatId", "Related To ID", ("Account", "Opportunity", "Case"), "What"),
    _subject(),
    simple("ActivityDate", "Due Date Only", T.DATE, ACTIVITY),
    _picklist("Status", "Status", TASK_STATUSES, nillable=False),
    _picklist("Priority", "Priority", TASK_PRIORITIES, nillable=False),
    simple("IsHighPriority", "High Priority", T.BOOLEAN, ACTIVITY, nillable=False, system=True),
    _polymorphic("OwnerId", "Assigned To ID", ("Group", "User"), "Owner", nillable=False),
    textarea("Description", "Description", LONG_DESCRIPTION_LENGTH, ACTIVITY),
    reference("AccountId", "Account ID", "Account", "Account", LINKS, system=True),
    simple("IsClosed", "Closed", T.BOOLEAN, ACTIVITY, nillable=False, system=True),
    *_audit(),
    simple("CallDurationInSeconds", "Call Duration", T.INT, ACTIVITY, digits=8),
    _picklist("CallType", "Call Type", ("Internal", "Inbound", "Outbound")),
    text("CallDisposition", "Call Result", 255, ACTIVITY),
    text("CallObject", "Call Object Identifier", 255, ACTIVITY),
    simple("ReminderDateTime", "Reminder Date/Time", T.DATETIME, ACTIVITY),
    simple("IsReminderSet", "Reminder Set", T.BOOLEAN, ACTIVITY, nillable=False),
    _picklist("TaskSubtype", "Task Subtype", ("Task", "Email", "ListEmail", "Cadence", "Call")),
    simple("CompletedDateTime", "Completed Date/Time", T.DATETIME, ACTIVITY, system=True),
)

EVENT_FIELDS: tuple[FieldSpec, ...] = (
    _id("Activity ID"),
    _polymorphic("WhoId", "Name ID", ("Contact", "Lead"), "Who"),
    _polymorphic("WhatId", "Related To ID", ("Account", "Opportunity", "Case"), "What"),
    _subject(),
    text("Location", "Location", 255, ACTIVITY),
    simple("IsAllDayEvent", "All-Day Event", T.BOOLEAN, ACTIVITY, nillable=False),
    simple("ActivityDateTime", "Due Date Time", T.DATETIME, ACTIVITY),
    simple("ActivityDate", "Due Date Only", T.DATE, ACTIVITY),
    simple("DurationInMinutes", "Duration", T.INT, ACTIVITY, digits=8),
    simple("StartDateTime", "Start Date Time", T.DATETIME, ACTIVITY),
    simple("EndDateTime", "End Date Time", T.DATETIME, ACTIVITY),
    simple("EndDate", "End Date Only", T.DATE, ACTIVITY, system=True),
    textarea("Description", "Description", LONG_DESCRIPTION_LENGTH, ACTIVITY),
    reference("AccountId", "Account ID", "Account", "Account", LINKS, system=True),
    _polymorphic("OwnerId", "Assigned To ID", ("Calendar", "User"), "Owner", nillable=False),
    simple("IsPrivate", "Private", T.BOOLEAN, ACTIVITY, nillable=False),
    _picklist("ShowAs", "Show Time As", ("Busy", "OutOfOffice", "Free"), defaulted_on_create=True),
    simple("IsChild", "Is Child", T.BOOLEAN, ACTIVITY, nillable=False, system=True),
    simple("IsGroupEvent", "Is Group Event", T.BOOLEAN, ACTIVITY, nillable=False, system=True),
    _picklist(
        "GroupEventType",
        "Group Event Type",
        ("0", "1", "2", "3"),
        system=True,
        defaulted_on_create=True,
    ),
    *_audit(),
    simple(
        "IsRecurrence",
        "Create Recurring Series of Events",
        T.BOOLEAN,
        ACTIVITY,
        nillable=False,
        updateable=False,
        extra={"createable": True},  # set on create, never changed
    ),
    simple("ReminderDateTime", "Reminder Date/Time", T.DATETIME, ACTIVITY),
    simple("IsReminderSet", "Reminder Set", T.BOOLEAN, ACTIVITY, nillable=False),
    _picklist(
        "EventSubtype", "Event Subtype", ("Event",), updateable=False, extra={"createable": True}
    ),
)
