"""Objects real orgs list as queryable that a plain ``SELECT ... FROM X`` cannot read.

``objects: ["*"]`` leaves these out before creating any job; an object missing from these lists
is recognised by Salesforce's answer instead (``salesforce.errors.refusal_reason``) and skipped
then. The lists are the union of what three peer connectors learned from real orgs:

* MeltanoLabs/tap-salesforce and singer-io/tap-salesforce, ``tap_salesforce/salesforce/__init__.py``
  (``QUERY_RESTRICTED_SALESFORCE_OBJECTS``, ``QUERY_INCOMPATIBLE_SALESFORCE_OBJECTS``; the errors
  behind them are quoted in singer-io/tap-salesforce's ``Blacklisting.md``: "MALFORMED_QUERY:
  Implementation restriction: ... requires a filter by a single Id ...", "INVALID_TYPE_FOR_OPERATION:
  entity type ... does not support query");
* airbytehq/airbyte, ``airbyte-integrations/connectors/source-salesforce/source_salesforce/api.py``
  (the same two lists, plus platform event objects that cannot be queried);
* airbytehq/airbyte#30819 for ContentDocumentLink's own message ("Implementation restriction:
  ContentDocumentLink requires a filter by a single Id on ContentDocumentId or LinkedEntityId using
  the equals operator or multiple Id's using the IN operator.").

An object named explicitly in ``objects`` is not filtered by these lists: it is tried, and
Salesforce's refusal fails it with a line saying to remove it (see ``outcomes``).
"""

from __future__ import annotations

# Need a WHERE clause on a particular field (an Id, a parent) that replication cannot write.
NEEDS_A_FILTER = frozenset(
    {
        "Announcement",
        "AppTabMember",
        "CollaborationGroupRecord",
        "ColorDefinition",
        "ContentDocumentLink",
        "ContentFolderItem",
        "ContentFolderMember",
        "DataStatistics",
        "DatacloudDandBCompany",
        "EntityParticle",
        "FieldDefinition",
        "FieldHistoryArchive",
        "FlexQueueItem",
        "FlowVariableView",
        "FlowVersionView",
        "IconDefinition",
        "IdeaComment",
        "NetworkUserHistoryRecent",
        "OwnerChangeOptionInfo",
        "PicklistValueInfo",
        "PlatformAction",
        "RecordActionHistory",
        "RelationshipDomain",
        "RelationshipInfo",
        "SearchLayout",
        "SiteDetail",
        "UserEntityAccess",
        "UserFieldAccess",
        "Vote",
    }
)

# Cannot be queried on their own (only through a parent's subquery, or not at all).
NOT_QUERYABLE_ALONE = frozenset(
    {
        "AIPredictionEvent",
        "ActivityHistory",
        "AggregateResult",
        "ApiAnomalyEvent",
        "ApiEventStream",
        "AsyncOperationEvent",
        "AsyncOperationStatus",
        "AttachedContentDocument",
        "AttachedContentNote",
        "BatchApexErrorEvent",
        "BulkApiResultEvent",
        "CombinedAttachment",
        "ConcurLongRunApexErrEvent",
        "ContentBody",
        "CredentialStuffingEvent",
        "DataType",
        "DatacloudAddress",
        "EmailStatus",
        "FeedLike",
        "FeedSignal",
        "FeedTrackedChange",
        "FlowExecutionErrorEvent",
        "FolderedContentDocument",
        "LightningUriEventStream",
        "ListViewChartInstance",
        "ListViewEventStream",
        "LoginAsEventStream",
        "LoginEventStream",
        "LogoutEventStream",
        "LookedUpFromActivity",
        "Name",
        "NoteAndAttachment",
        "OpenActivity",
        "OrgLifecycleNotification",
        "OutgoingEmail",
        "OutgoingEmailRelation",
        "OwnedContentDocument",
        "PlatformStatusAlertEvent",
        "ProcessExceptionEvent",
        "ProcessInstanceHistory",
        "QuoteTemplateRichTextData",
        "RemoteKeyCalloutEvent",
        "ReportAnomalyEvent",
        "ReportEventStream",
        "SessionHijackingEvent",
        "UriEventStream",
        "UserRecordAccess",
    }
)

KNOWN_UNREADABLE = NEEDS_A_FILTER | NOT_QUERYABLE_ALONE
