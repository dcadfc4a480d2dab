"""SOAP partner ``login()``: request parsing, loginResponse, and the faults Salesforce sends.

Response and ``LoginFault`` shapes from the SOAP API's login() page
(https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_login.htm).
login() "is not available in API version 65.0 and later"
(https://help.salesforce.com/s/articleView?id=005132110&type=1); the exact fault for that case
is not documented, so the emulator answers HTTP 500 with ``sf:INVALID_OPERATION``, the code
Salesforce uses when login() is disabled in an org. A right password without the security token
gets ``LOGIN_MUST_USE_SECURITY_TOKEN`` ("The user must add a security token to the end of his or
her password to log in", the ExceptionCode list of
https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_concepts_core_data_objects.htm):
the emulator trusts no IP range.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PARTNER_NS = "urn:partner.soap.sforce.com"
FAULT_NS = "urn:fault.partner.soap.sforce.com"
SESSION_SECONDS_VALID = 7200


@dataclass(frozen=True)
class LoginRequest:
    """username and password (with the security token appended)."""

    username: str
    password: str


def parse_login(body: bytes) -> LoginRequest | None:
    """The login() call in an envelope, or None when the body is not one."""
    try:
        root = ET.fromstring(body)  # noqa: S314 - local test emulator input
    except ET.ParseError:
        return None
    login = root.find(f".//{{{PARTNER_NS}}}login")
    if login is None:
        return None
    username = login.findtext(f"{{{PARTNER_NS}}}username") or ""
    password = login.findtext(f"{{{PARTNER_NS}}}password") or ""
    return LoginRequest(username, password)


def fault(code: str, message: str, fault_type: str = "UnexpectedErrorFault") -> bytes:
    """A ``soapenv:Fault`` envelope (sent with HTTP 500)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:sf="{FAULT_NS}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {escape(message)}</faultstring>"
        f'<detail><sf:{fault_type} xsi:type="sf:{fault_type}"><sf:exceptionCode>{code}</sf:exceptionCode>'
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage></sf:{fault_type}></detail>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    ).encode()


def invalid_login() -> bytes:
    """The fault for a wrong username, password or security token."""
    return fault(
        "INVALID_LOGIN",
        "Invalid username, password, security token; or user locked out.",
        "LoginFault",
    )


def must_use_security_token() -> bytes:
    """The fault for a right password sent without the security token from an untrusted IP."""
    return fault(
        "LOGIN_MUST_USE_SECURITY_TOKEN",
        "Invalid username, password, security token; or user locked out. Are you at a new "
        "location? When accessing Salesforce--either via a desktop client or the API--from "
        "outside of your company's trusted networks, you must add a security token to your "
        "password to log in.",
        "LoginFault",
    )


def login_response(
    base_url: str, version: str, session_id: str, org_id: str, user_id: str, username: str
) -> bytes:
    """A successful loginResponse."""
    info = {
        "accessibilityMode": "false",
        "chatterExternal": "false",
        "currencySymbol": "$",
        "orgAttachmentFileSizeLimit": "5242880",
        "orgDefaultCurrencyIsoCode": "USD",
        "orgDefaultCurrencyLocale": "en_US",
        "orgDisallowHtmlAttachments": "false",
        "orgHasPersonAccounts": "false",
        "organizationId": org_id,
        "organizationMultiCurrency": "false",
        "organizationName": "Fake Health Directory",
        "profileId": "00e5g000000ABCDAA4",
        "roleId": "",
        "sessionSecondsValid": str(SESSION_SECONDS_VALID),
        "userDefaultCurrencyIsoCode": "",
        "userEmail": "integration@example-health.org",
        "userFullName": "Integration User",
        "userId": user_id,
        "userLanguage": "en_US",
        "userLocale": "en_US",
        "userName": username,
        "userTimeZone": "America/Los_Angeles",
        "userType": "Standard",
        "userUiSkin": "Theme3",
    }
    user_info = "".join(
        f'<{key} xsi:nil="true"/>' if value == "" else f"<{key}>{escape(value)}</{key}>"
        for key, value in info.items()
    )
    org15 = org_id[:15]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns="{PARTNER_NS}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>'
        f"<metadataServerUrl>{base_url}/services/Soap/m/{version}/{org15}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
        f"<serverUrl>{base_url}/services/Soap/u/{version}/{org15}</serverUrl>"
        f"<sessionId>{session_id}</sessionId><userId>{user_id}</userId>"
        f"<userInfo>{user_info}</userInfo>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
    ).encode()
