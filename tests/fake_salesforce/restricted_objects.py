"""Objects a real org lists but will not let a plain query read (opt-in:
``FakeSalesforce(restricted_objects=True)``), answering as Salesforce does.

* ``ContentDocumentLink`` and ``EntitySubscription`` refuse an unfiltered query when the Bulk job
  is created: 400 ``API_ERROR`` "Implementation restriction: ..." (the texts are Salesforce's, as
  quoted in airbytehq/airbyte#30819 and #26520; airbyte's ``rate_limiting.py`` matches
  ``API_ERROR`` plus "Implementation restriction" on job creation). The REST query resource
  refuses the same SOQL with 400 ``MALFORMED_QUERY`` (the code in singer-io/tap-salesforce's
  ``Blacklisting.md``). Peers list ContentDocumentLink among the objects known to need a filter;
  EntitySubscription is on no such list, so only its error tells a client.
* ``Compensation__c``: the job is created, then ends ``Failed`` because the user lacks access
  (a choice: Salesforce documents the ``INSUFFICIENT_ACCESS`` status code, no Bulk 2.0 capture of
  it was found; the text follows the ``InvalidBatch : Failed to process query: CODE: message``
  shape of Bulk batch state messages, ForceCLI/force#531).
* ``ActivityFieldHistory``: rows that query fine without a filter, whose ``SystemModstamp``,
  ``LastModifiedDate`` and ``CreatedDate`` describe as ``filterable: false``; a ``WHERE`` on one
  of them is refused with 400 ``INVALID_FIELD`` "field 'SystemModstamp' can not be filtered in a
  query call" (airbytehq/airbyte#62877, PR #68166), so a client that ignores ``filterable``
  fails from its second, incremental run on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tests.fake_salesforce.fields import FieldSpec, reference, simple, text
from tests.fake_salesforce.pools import Generator
from tests.fake_salesforce.values import Typed
from tests.fake_salesforce.vocabulary import FieldType as T


@dataclass(frozen=True)
class Refusal:
    """How Salesforce refuses a query of an object: when the job is created, or as a Failed job."""

    status: int
    error_code: str
    message: str
    at_creation: bool = True  # False: the Bulk job is created and ends Failed with ``message``


BULK_UNSUPPORTED = "Entity '{name}' is not supported by the Bulk API."
CONTENT_DOCUMENT_LINK_RESTRICTION = (
    "Implementation restriction: ContentDocumentLink requires a filter by a single Id on "
    "ContentDocumentId or LinkedEntityId using the equals operator or multiple Id's using the "
    "IN operator."
)
ENTITY_SUBSCRIPTION_RESTRICTION = (
    "Implementation restriction: EntitySubscription only allows security evaluation for "
    "non-admin users when LIMIT is specified and at most 1000"
)
INSUFFICIENT_ACCESS_MESSAGE = (
    "InvalidBatch : Failed to process query: INSUFFICIENT_ACCESS: insufficient access rights on "
    "object id"
)
ACTIVITY_FIELD_HISTORY_ROWS = 40


def _id(label: str) -> FieldSpec:
    return FieldSpec("Id", T.ID, label, length=18, nillable=False, updateable=False, system=True)


def _stamps() -> list[FieldSpec]:
    return [
        simple("CreatedDate", "Created Date", T.DATETIME, "", nillable=False, system=True),
        simple("LastModifiedDate", "Last Modified Date", T.DATETIME, "", nillable=False, system=True),
        simple("SystemModstamp", "System Modstamp", T.DATETIME, "", nillable=False, system=True),
    ]  # fmt: skip


# name -> (label, key prefix, fields, Bulk refusal, REST refusal)
RESTRICTED: dict[str, tuple[str, str | None, tuple[FieldSpec, ...], Refusal, Refusal | None]] = {
    "ContentDocumentLink": (
        "Content Document Link",
        "06A",
        (
            _id("ContentDocumentLink ID"),
            reference("LinkedEntityId", "Linked Entity ID", "Contact", "LinkedEntity", ""),
            reference(
                "ContentDocumentId", "ContentDocument ID", "ContentDocument", "ContentDocument", ""
            ),
            simple("IsDeleted", "Deleted", T.BOOLEAN, "", nillable=False, system=True),
            text("ShareType", "Share Type", 40, ""),
            *_stamps()[2:],
        ),
        Refusal(400, "API_ERROR", CONTENT_DOCUMENT_LINK_RESTRICTION),
        Refusal(400, "MALFORMED_QUERY", CONTENT_DOCUMENT_LINK_RESTRICTION),
    ),
    "EntitySubscription": (
        "Entity Subscription",
        "0E8",
        (
            _id("Entity Subscription ID"),
            reference("ParentId", "Parent ID", "Contact", "Parent", ""),
            reference("SubscriberId", "Subscriber ID", "User", "Subscriber", ""),
            simple("IsDeleted", "Deleted", T.BOOLEAN, "", nillable=False, system=True),
            simple("CreatedDate", "Created Date", T.DATETIME, "", nillable=False, system=True),
        ),
        Refusal(400, "API_ERROR", ENTITY_SUBSCRIPTION_RESTRICTION),
        Refusal(400, "MALFORMED_QUERY", ENTITY_SUBSCRIPTION_RESTRICTION),
    ),
    "Compensation__c": (
        "Compensation",
        "a0C",
        (
            _id("Record ID"),
            text("Name", "Compensation Name", 80, "", nillable=False),
            simple("IsDeleted", "Deleted", T.BOOLEAN, "", nillable=False, system=True),
            *_stamps(),
        ),
        Refusal(200, "INSUFFICIENT_ACCESS", INSUFFICIENT_ACCESS_MESSAGE, at_creation=False),
        None,
    ),
}

ACTIVITY_FIELD_HISTORY_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("Id", T.ID, "Activity Field History ID", length=18, nillable=False,
              updateable=False, system=True, group="row"),
    simple("IsDeleted", "Deleted", T.BOOLEAN, "row", nillable=False, system=True),
    reference("ActivityId", "Activity ID", "Task", "Activity", "history", nillable=False),
    simple("ChangedDate", "Changed Date", T.DATETIME, "history", nillable=False, system=True),
    reference("ChangedById", "Changed By ID", "User", "ChangedBy", "history", system=True),
    text("FieldName", "Field Name", 255, "history", nillable=False),
    text("OldValueText", "Old Value (Text)", 255, "history"),
    text("NewValueText", "New Value (Text)", 255, "history"),
    simple("CreatedDate", "Created Date", T.DATETIME, "row", nillable=False, system=True, filterable=False),
    simple("LastModifiedDate", "Last Modified Date", T.DATETIME, "row", nillable=False, system=True,
           filterable=False),
    simple("SystemModstamp", "System Modstamp", T.DATETIME, "row", nillable=False, system=True,
           filterable=False),
)  # fmt: skip
HISTORY_POOL_SIZE = 31


def make_history_generator(user_ids: tuple[str, ...], task_id: str) -> Generator:
    """Field changes of one task: status and priority edits."""

    def history(rng: random.Random, variant: int) -> dict[str, Typed]:
        field = rng.choice(("Status", "Priority", "Subject"))
        return {
            "ActivityId": task_id,
            "ChangedDate": 1_700_000_000_000 + variant * 3_600_000,
            "ChangedById": rng.choice(user_ids),
            "FieldName": field,
            "OldValueText": "Not Started" if field == "Status" else None,
            "NewValueText": "Completed" if field == "Status" else "High",
        }

    return history
