"""Policy data: the facts of one sale that the recording is checked against."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

PRODUCT_TYPES = ("traditional", "participating", "universal", "investment_linked")


@dataclass(frozen=True)
class Policy:
    """What was sold, to whom, by whom. Field names are the keys of the policy JSON file."""

    customer_name: str
    customer_id_number: str
    product_name: str
    product_type: str = "traditional"
    salesperson_name: str = ""
    institution: str = ""
    premium: float | None = None  # yuan per payment
    payment_method: str = ""  # e.g. 年交, 月交, 趸交
    payment_years: int | None = None
    insurance_years: int | None = None  # None = whole life (终身)
    cooling_off_days: int = 15
    customer_photo: str | None = None  # reference photo path, optional
    salesperson_photo: str | None = None

    def __post_init__(self) -> None:
        if self.product_type not in PRODUCT_TYPES:
            raise ValueError(
                f"product_type must be one of {', '.join(PRODUCT_TYPES)}, not {self.product_type!r}"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Policy:
        """Build from a JSON object, ignoring unknown keys and reporting missing required ones."""
        names = {f.name for f in fields(cls)}
        missing = [
            n for n in ("customer_name", "customer_id_number", "product_name") if n not in data
        ]
        if missing:
            raise ValueError(f"policy data lacks {', '.join(missing)}")
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def placeholders(self) -> dict[str, str]:
        """Values for ``{name}`` placeholders in script templates."""
        out = {k: ("" if v is None else str(v)) for k, v in self.to_dict().items()}
        if isinstance(self.premium, float) and self.premium.is_integer():
            out["premium"] = str(int(self.premium))
        out["insurance_period"] = (
            "终身" if self.insurance_years is None else f"{self.insurance_years}年"
        )
        out["payment_period"] = f"{self.payment_years}年" if self.payment_years else ""
        return out
