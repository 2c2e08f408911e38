"""The vision half of the live checks: faces on sampled frames, document prompts and reads.

Same models and code as the offline video and document stages: ``FaceAnalyzer.detect``
with the offline counting rule (``vision._counted``: size and score thresholds), and
``documents.read_id_card`` / ``read_signature`` on the customer's frames while a document
node is being worked on. See ``inspection.live`` for the whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from inspection.documents import read_id_card, read_signature
from inspection.idnumber import mask_id
from inspection.page_text import locate_sentence
from inspection.rules import Thresholds
from inspection.templates import RenderedNode, Template
from inspection.vision import _counted

if TYPE_CHECKING:
    from inspection.faces import FaceAnalyzer
    from inspection.live import LiveConfig
    from inspection.ocr import OcrEngine
    from inspection.policy import Policy


@dataclass(frozen=True)
class LiveWarning:
    """A live warning; its ``code`` is the finding code it foreshadows (``media.silent`` and
    ``media.clipped`` both foreshadow ``media.quality``)."""

    code: str
    participant: str | None
    t_s: float
    active: bool = False  # still going on (out of frame, silent), not just happened
    detail: dict[str, Any] = field(default_factory=dict)

    def key(self) -> tuple[Any, ...]:
        """What makes two warnings the same (for storing each once)."""
        return (self.code, self.participant, round(self.t_s, 1), tuple(sorted(self.detail)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "participant": self.participant,
            "t_s": round(self.t_s, 2),
            "active": self.active,
            **self.detail,
        }


def mask_name(name: str | None) -> str | None:
    """A read name as shown live: first and last character kept (李明华 -> 李*华, 陈静 -> 陈*)."""
    if not name:
        return None
    if len(name) <= 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


@dataclass
class _Presence:
    first_s: float | None = None
    last_seen_s: float | None = None  # a counted face
    extra_since_s: float | None = None  # 2+ counted faces since
    extra_at: list[float] = field(default_factory=list)  # starts of reported extra-person runs
    last_frame_s: float = -1e9


@dataclass
class _Document:
    node: RenderedNode
    status: str = "waiting"  # waiting | prompt | seen
    name: str | None = None
    id_masked: str | None = None
    id_valid: bool = False
    signed_name: str | None = None
    similarity: float | None = None
    seen_s: float | None = None
    last_ocr_s: float = -1e9


class LiveVision:
    """Presence, extra persons and documents from sampled frames of both participants."""

    def __init__(
        self,
        nodes: list[RenderedNode],
        policy: Policy,
        template: Template,
        th: Thresholds,
        config: LiveConfig,
        faces: Callable[[], FaceAnalyzer] | None,
        ocr: Callable[[], OcrEngine] | None,
    ) -> None:
        self.policy, self.template, self.th, self.config = policy, template, th, config
        self._faces, self._ocr = faces, ocr
        self._presence: dict[str, _Presence] = {}
        self._docs = [_Document(n) for n in nodes if n.document]

    def feed(
        self, participant: str, t_s: float, bgr: np.ndarray, current: RenderedNode | None
    ) -> bool:
        p = self._presence.setdefault(participant, _Presence())
        if t_s - p.last_frame_s < self.config.frame_interval_s * 0.9:
            return False
        p.last_frame_s = t_s
        if p.first_s is None:
            p.first_s = t_s
        doc = self._document_for(current)
        changed = False
        if doc is not None and doc.status == "waiting":
            doc.status, changed = "prompt", True
        if self._faces is not None:
            changed |= self._presence_from(p, t_s, bgr, showing=doc is not None)
        if doc is not None and participant == "customer" and doc.status == "prompt":
            changed |= self._read(doc, t_s, bgr)
        return changed

    def _document_for(self, current: RenderedNode | None) -> _Document | None:
        if current is None:
            return None
        return next((d for d in self._docs if d.node.id == current.id), None)

    def _presence_from(self, p: _Presence, t_s: float, bgr: np.ndarray, showing: bool) -> bool:
        assert self._faces is not None
        counted = [f for f in self._faces().detect(bgr) if _counted(f, self.th)]
        was_absent = self._absent(p, t_s)
        if counted or showing:
            # Holding up a document is not an absence (as offline: document windows).
            p.last_seen_s = t_s
        changed = was_absent != self._absent(p, t_s)
        if len(counted) >= 2 and not showing:
            if p.extra_since_s is None:
                p.extra_since_s = t_s
            elif t_s - p.extra_since_s >= self.th.extra_person_min_s and (
                not p.extra_at or p.extra_at[-1] != p.extra_since_s
            ):
                p.extra_at.append(p.extra_since_s)
                changed = True
        else:
            p.extra_since_s = None
        return changed

    def _absent(self, p: _Presence, now_s: float) -> bool:
        since = p.last_seen_s if p.last_seen_s is not None else p.first_s
        return since is not None and now_s - since > self.th.face_absent_max_s

    def _read(self, doc: _Document, t_s: float, bgr: np.ndarray) -> bool:
        if self._ocr is None or t_s - doc.last_ocr_s < self.config.ocr_interval_s:
            return False
        doc.last_ocr_s = t_s
        ocr = self._ocr()
        if doc.node.document == "id_card":
            card = read_id_card(
                ocr, [(t_s, bgr)], doc.node.id, (t_s, t_s), self.policy.customer_name
            )
            if card.id_valid or card.name_shown:
                doc.name = mask_name(card.name)
                doc.id_masked = mask_id(card.id_number) if card.id_number else None
                doc.id_valid = card.id_valid
                doc.status, doc.seen_s = "seen", t_s
                return True
            return False
        page = read_signature(
            ocr, [(t_s, bgr)], doc.node.id, (t_s, t_s), self.template.risk_sentence
        )
        sentence = self.template.risk_sentence
        if sentence and page.lines:
            doc.similarity = round(locate_sentence(page.lines, sentence).similarity, 2)
        if page.signed_name or (doc.similarity or 0.0) >= self.th.risk_sentence_similarity:
            doc.signed_name = mask_name(page.signed_name)
            doc.status, doc.seen_s = "seen", t_s
            return True
        return False

    def warnings(self, now_s: float) -> list[LiveWarning]:
        out = []
        for who, p in self._presence.items():
            if self._absent(p, now_s):
                since = p.last_seen_s if p.last_seen_s is not None else p.first_s
                out.append(LiveWarning("face.absent", who, since or 0.0, active=True))
            out += [LiveWarning("face.extra_person", who, t) for t in p.extra_at]
        return out

    def documents(self) -> list[dict[str, Any]]:
        return [
            {
                "node": d.node.id,
                "title": d.node.title,
                "document": d.node.document,
                "status": d.status,
                "name": d.name or d.signed_name,
                "id_number": d.id_masked,
                "id_valid": d.id_valid,
                "similarity": d.similarity,
                "t_s": d.seen_s,
            }
            for d in self._docs
        ]
