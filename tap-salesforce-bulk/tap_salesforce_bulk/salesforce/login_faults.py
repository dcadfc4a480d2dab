"""One-line explanations of refused logins, with the fix for the faults users actually hit."""

from __future__ import annotations

from typing import Any

# Advice for the OAuth errors users actually hit; keys are (error, phrase in description).
# https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_flow_errors.htm
OAUTH_ERROR_HINTS: tuple[tuple[str, str, str], ...] = (
    (
        "invalid_grant",
        "authentication failure",
        "check username, password and security_token (Salesforce expects the token appended to "
        "the password), that the user is not locked out, and the org's login IP ranges",
    ),
    (
        "invalid_grant",
        "approved",
        "pre-authorize the user: set the connected app's Permitted Users to 'Admin approved users "
        "are pre-authorized' and grant its profile or permission set access",
    ),
    (
        "invalid_grant",
        "expired",
        "the refresh token was revoked or expired; create a new one, or switch to the jwt flow",
    ),
    (
        "invalid_grant",
        "audience",
        "the JWT audience must be https://login.salesforce.com (production) or "
        "https://test.salesforce.com (sandbox); set domain accordingly",
    ),
    (
        "invalid_client_id",
        "",
        "client_id (the consumer key) is wrong, or the connected app is new: Salesforce takes up "
        "to 10 minutes to make one usable",
    ),
    ("invalid_client", "", "client_secret (the consumer secret) does not match client_id"),
    (
        "unsupported_grant_type",
        "",
        "this flow is not enabled for the connected app or org (the username-password flow is "
        "blocked in new orgs and retired on 2027-02-20); use jwt or client_credentials",
    ),
    (
        "invalid_app_access",
        "",
        "the user is not assigned to the connected app; add the user's profile or permission set",
    ),
    (
        "inactive_user",
        "",
        "the user is inactive; activate it or use another user",
    ),
)


def oauth_failure_message(flow: str, status: int, body: Any) -> str:
    """A one-line explanation of a failed token request, without echoing any credential."""
    error = str(body.get("error", "")) if isinstance(body, dict) else ""
    description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
    hint = next(
        (
            advice
            for code, phrase, advice in OAUTH_ERROR_HINTS
            if code == error and phrase in description.lower()
        ),
        None,
    )
    said = f"{error}: {description}" if error else f"HTTP {status}"
    text = f"Salesforce refused the {flow} login ({said})"
    return f"{text}; {hint}" if hint else text


def soap_failure_message(fault_code: str, fault_text: str) -> str:
    """A one-line explanation of a SOAP ``login()`` fault."""
    hint = (
        "check username, password and security_token"
        if "INVALID_LOGIN" in fault_code
        else "use the jwt or client_credentials flow"
    )
    return f"Salesforce refused the soap login ({fault_code}: {fault_text}); {hint}"
