"""Whether a session's salesperson still stands behind its join links.

A join link is signed when the session is made and stays valid for up to a day; the
salesperson's account may be disabled (``kesu user disable``) or their remote-recording
qualification withdrawn (R20, ``kesu user qualify NAME no``) in that time. Their own
requests are refused at once (cookie, ``403 not_qualified``); the customer's link is checked
here, so a self-service customer, who records alone, is not recorded under a salesperson
who may no longer sell remotely.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.store.models import User


@dataclass(frozen=True)
class Refusal:
    status: int  # the HTTP status of the customer's refused request
    code: str  # the API error code (docs/errors.md); also the ``leave`` event's reason
    message: str


DISABLED = Refusal(
    403, "salesperson_disabled", "the salesperson's account for this session is no longer active"
)
NOT_QUALIFIED = Refusal(
    403,
    "salesperson_not_qualified",
    "the salesperson for this session is not qualified for remote recording",
)


def refusal_of(owner: User | None) -> Refusal | None:
    """Why ``owner``'s session may not be recorded now, or None when it may. A missing
    account (never deleted today) counts as disabled."""
    if owner is None:
        return DISABLED
    return refusal_for(owner.disabled, owner.role, owner.qualified_remote)


def refusal_for(disabled: bool, role: str, qualified_remote: bool) -> Refusal | None:
    """:func:`refusal_of` on the account's columns (for a query that selects only those)."""
    if disabled:
        return DISABLED
    if role == "salesperson" and not qualified_remote:
        return NOT_QUALIFIED
    return None
