"""One-line explanations of refused logins, with the fix for the faults users actually hit."""

from __future__ import annotations

from typing import Any

MY_DOMAIN_ADVICE = (
    "the client_credentials flow only works on the org's My Domain, not on login.salesforce.com "
    "or test.salesforce.com: set domain: <your My Domain> (such as acme.my, or "
    "acme--uat.sandbox.my for a sandbox), or login_url to that domain's https URL"
)
# Said once, at the first exchange that returned a new refresh token, when the token is inline.
# https://help.salesforce.com/s/articleView?id=005316711&type=1
ROTATED_INLINE_WARNING = (
    "Salesforce rotated the refresh token (Refresh Token Rotation is on for the connected app): "
    "this run goes on with the new one, but the refresh_token setting now holds a spent token, "
    "so the next run will fail with it (and revoke the new one). Set refresh_token_path to a "
    "file the tap may rewrite, or turn Refresh Token Rotation off for the app, or use the jwt flow"
)

# Advice for the OAuth errors users actually hit; keys are (error, phrase in description).
# https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_flow_errors.htm
OAUTH_ERROR_HINTS: tuple[tuple[str, str, str], ...] = (
    (
        "invalid_grant",
        "authentication failure",
        "check username, password and security_token (Salesforce expects the token appended to "
        "the password), that the user is not locked out, and the org's login IP ranges; orgs "
        "created from Summer '23 on block the username-password flow (Setup > OAuth and OpenID "
        "Connect Settings > Allow OAuth Username-Password Flows): prefer jwt or client_credentials",
    ),
    ("invalid_grant", "not supported on this domain", MY_DOMAIN_ADVICE),
    (
        "invalid_grant",
        "approved",
        "pre-authorize the user: set the connected app's Permitted Users to 'Admin approved users "
        "are pre-authorized' and grant its profile or permission set access",
    ),
    (
        "invalid_grant",
        "expired",
        "the refresh token was revoked or expired; under Refresh Token Rotation a token that was "
        "already exchanged is refused and revokes its successors, so keep the token in "
        "refresh_token_path; create a new one, or switch to the jwt flow",
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


# Advice for SOAP login() faults, by the fault's ExceptionCode.
# https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_concepts_core_data_objects.htm
SOAP_FAULT_HINTS: dict[str, str] = {
    "INVALID_LOGIN": "check username, password and security_token; after repeated failures the "
    "user is locked out (Setup > Users > Unlock)",
    "LOGIN_MUST_USE_SECURITY_TOKEN": "set security_token (Salesforce wants it appended to the "
    "password for logins from outside the org's trusted IP ranges)",
    "PASSWORD_LOCKOUT": "the user is locked out after too many failed logins; unlock it in "
    "Setup > Users, or wait for the lockout period to end",
    "INSUFFICIENT_ACCESS": "login() needs the user permission 'Use Any API Auth'; grant it, or "
    "use the jwt or client_credentials flow",
}
SOAP_DEFAULT_HINT = "use the jwt or client_credentials flow"


def one_line(text: str) -> str:
    """Salesforce's words with line breaks and runs of spaces collapsed."""
    return " ".join(text.split())


def oauth_failure_message(flow: str, status: int, body: Any) -> str:
    """A one-line explanation of a failed token request, without echoing any credential."""
    error = one_line(str(body.get("error", ""))) if isinstance(body, dict) else ""
    description = one_line(str(body.get("error_description", ""))) if isinstance(body, dict) else ""
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
    """A one-line explanation of a SOAP ``login()`` fault (``sf:INVALID_LOGIN`` and its text)."""
    code = fault_code.rpartition(":")[2] or fault_code
    text = one_line(fault_text).removeprefix(f"{code}: ")
    hint = SOAP_FAULT_HINTS.get(code, SOAP_DEFAULT_HINT)
    return f"Salesforce refused the soap login ({code}: {text}); {hint}"
