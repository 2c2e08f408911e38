"""QC review: the queue of flagged sessions, finding judgements, decisions (一审/二审) and
re-recording requests. HTTP handlers in ``server/api/reviews.py`` stay thin and call this.

Modules, each importing only those above it in this list:
``masking`` (ID numbers in free text), ``access`` (review states, who may act, the session
lookup), ``records`` (one session's review as stored, and its JSON), ``queue`` (the reviewers'
queue), ``rerecord`` (re-recording requests), ``decisions`` (the state machine: judgements
and decisions; a reviewer's judgements on a session bounded by ``server/action_limits.py``).
The names below are re-exported so that ``from server import reviews`` is the API.
"""

from server.reviews.access import (
    REVIEW_STATES,
    ReviewError,
    actor_of,
    institution_scope,
    load_session,
)
from server.reviews.decisions import (
    FINDING_STATES,
    MAX_COMMENT,
    MAX_REASON,
    DecisionResult,
    decide,
    judge_finding,
    permissions,
)
from server.reviews.masking import mask_deep, mask_text
from server.reviews.queue import QUEUE_LIMIT, STATUS_FILTERS, QueueFilter, list_queue
from server.reviews.records import (
    ReviewState,
    decision_json,
    finding_json,
    load_review,
    node_titles,
    person_json,
    rerecord_json,
    review_record,
    review_state,
)
from server.reviews.rerecord import (
    REDO,
    open_requests,
    original_holder,
    rerecord_items,
    start_rerecord,
)

__all__ = [
    "FINDING_STATES",
    "MAX_COMMENT",
    "MAX_REASON",
    "QUEUE_LIMIT",
    "REDO",
    "REVIEW_STATES",
    "STATUS_FILTERS",
    "DecisionResult",
    "QueueFilter",
    "ReviewError",
    "ReviewState",
    "actor_of",
    "decide",
    "decision_json",
    "finding_json",
    "judge_finding",
    "list_queue",
    "load_review",
    "institution_scope",
    "load_session",
    "mask_deep",
    "mask_text",
    "node_titles",
    "open_requests",
    "original_holder",
    "permissions",
    "person_json",
    "rerecord_items",
    "rerecord_json",
    "review_record",
    "review_state",
    "start_rerecord",
]
