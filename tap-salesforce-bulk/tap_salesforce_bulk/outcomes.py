"""What becomes of an object Salesforce refuses, or that fails: the rest of the run goes on.

* Salesforce refuses to let a plain query read the object (it needs a filter, the user may not
  read it, Bulk API 2.0 cannot query it; see ``salesforce.errors.refusal_reason``):
  with ``objects: ["*"]`` the object is skipped with one warning, and the run can end 0: "every
  object" means every object a plain query can read, which no one can list beforehand. An object
  named in ``objects`` is a request the configuration made and Salesforce refused: it fails (as
  below) with a line that says to remove it, since skipping it silently would hide that data the
  user asked for never arrives.
* Any other failure (retries exhausted, a job Failed or past ``max_wait_time``, a bad page) ends
  that object only: its state stays where its last finished page or window left it, its side
  streams do not run, the other objects finish, and the run ends 1 with one line per failed
  object (``ObjectsFailedError``).
* Failures of the org or the session (login, limits, the quota guard, TLS) stop the run at once:
  every next object would fail alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from tap_salesforce_bulk.salesforce.errors import (
    SalesforceRetriableError,
    affects_every_object,
    refusal_reason,
)

REMOVE_HINT = 'remove it from objects (objects: ["*"] skips such objects by itself)'


@dataclass
class ObjectOutcomes:
    """The objects this run skipped or gave up on, with why."""

    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def gave_up_on(self, name: str) -> bool:
        """Whether the object was skipped or failed (its side streams then do not run)."""
        return name in self.skipped or name in self.failed

    def give_up(
        self, name: str, error: BaseException, *, every_object: bool, logger: logging.Logger
    ) -> bool:
        """Record that ``name`` ends here because of ``error``; False when the whole run must
        stop instead (the caller re-raises)."""
        if affects_every_object(error):
            return False
        reason = refusal_reason(error)
        if reason and every_object:
            self.skipped[name] = reason
            logger.warning("%s: skipped, %s (%s)", name, reason, error)
            return True
        text = str(error)
        if isinstance(error, SalesforceRetriableError):
            text += " (gave up after retrying; rerun to resume from the last state)"
        if reason:
            text = f"{reason}: {text}; {REMOVE_HINT}"
        self.failed.setdefault(name, text)
        logger.error("%s: failed, the other objects go on: %s", name, text)
        return True
