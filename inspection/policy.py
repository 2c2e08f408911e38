"""Policy data: the facts of one sale that the recording is checked against.

A sale may combine several products: a main product (主险) and riders (附加险), each with its
own type, premium, payment and insurance periods. The policy's top-level product fields are
the main product's, so a policy JSON written before riders existed (one product, inline) is
still read as it always was: a sale of that one product.
"""

from __future__ import annotations

import functools
import math
import re
import typing
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

PRODUCT_TYPES = ("traditional", "participating", "universal", "investment_linked")
MAX_PRODUCTS = 10
MAIN_KEY = "main"

#: The per-product keys of the policy JSON (inline for the main product, or in ``products``).
PRODUCT_KEYS = (
    "product_name",
    "product_type",
    "premium",
    "payment_method",
    "payment_years",
    "insurance_years",
)
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
ProductRole = Literal["main", "rider"]


@dataclass(frozen=True)
class Product:
    """One product of the sale. ``key`` names it in templates and reports (``main``,
    ``rider1``...); ``template_id`` optionally names the template of its own product nodes
    (docs/templates.md, "Combined sales")."""

    product_name: str
    product_type: str = "traditional"
    premium: float | None = None  # yuan per payment
    payment_method: str = ""  # e.g. 年交, 月交, 趸交
    payment_years: int | None = None
    insurance_years: int | None = None  # None = whole life (终身)
    key: str = MAIN_KEY
    role: ProductRole = "main"
    template_id: str | None = None

    def __post_init__(self) -> None:
        _check_type(self.product_type)
        if not _KEY_RE.match(self.key):
            raise ValueError(f"product key must match [a-z][a-z0-9_]*, not {self.key!r}")

    def placeholders(self) -> dict[str, str]:
        """This product's values for ``{product_name}``, ``{premium}``, ``{payment_period}``..."""
        out = {k: _text(getattr(self, k)) for k in PRODUCT_KEYS}
        out["premium"] = format_amount(self.premium)
        out["insurance_period"] = (
            "终身" if self.insurance_years is None else f"{self.insurance_years}年"
        )
        out["payment_period"] = f"{self.payment_years}年" if self.payment_years else ""
        out["product_role"] = "主险" if self.role == "main" else "附加险"
        return out

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in PRODUCT_KEYS}
        out["key"] = self.key
        if self.template_id:
            out["template_id"] = self.template_id
        return out


@dataclass(frozen=True)
class Policy:
    """What was sold, to whom, by whom. Field names are the keys of the policy JSON file.

    The product fields (``product_name`` ... ``insurance_years``) are the main product's;
    ``riders`` are the other products of a combined sale, in the order they are explained.
    """

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
    riders: tuple[Product, ...] = ()
    main_key: str = MAIN_KEY
    main_template_id: str | None = None

    def __post_init__(self) -> None:
        _check_type(self.product_type)
        if len(self.riders) + 1 > MAX_PRODUCTS:
            raise ValueError(f"a policy may list at most {MAX_PRODUCTS} products")
        keys = [p.key for p in self.products]
        dup = next((k for k in keys if keys.count(k) > 1), None)
        if dup is not None:
            raise ValueError(f"product key {dup!r} is used twice")

    @property
    def main(self) -> Product:
        return Product(
            **{k: getattr(self, k) for k in PRODUCT_KEYS},
            key=self.main_key,
            role="main",
            template_id=self.main_template_id,
        )

    @property
    def products(self) -> tuple[Product, ...]:
        """Every product of the sale, the main product first."""
        return (self.main, *self.riders)

    def product(self, key: str | None) -> Product:
        """The product with ``key`` (None: the main product)."""
        for p in self.products:
            if key is None or p.key == key:
                return p
        raise KeyError(key)

    @property
    def total_premium(self) -> float | None:
        """Sum of the products' premiums per payment; None unless every product has one."""
        values = [p.premium for p in self.products]
        if any(v is None for v in values):
            return None
        return float(sum(v for v in values if v is not None))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Policy:
        """Build from a JSON object, ignoring unknown keys and reporting missing required ones.

        ``products`` (optional) lists every product, the main product first; the top-level
        product fields may then be left out, and when present must equal the first product's.
        """
        if not isinstance(data, dict):
            raise TypeError(f"policy data must be a JSON object, not {type(data).__name__}")
        names = {f.name for f in fields(cls)} - {"riders", "main_key", "main_template_id"}
        own = {k: v for k, v in data.items() if k in names}
        own = check_types(cls, own)
        raw = data.get("products")
        if raw is not None:
            if not isinstance(raw, list) or not raw:
                raise ValueError("products must be a non-empty list")
            if len(raw) > MAX_PRODUCTS:
                raise ValueError(f"a policy may list at most {MAX_PRODUCTS} products")
            products = [_product_from(item, i) for i, item in enumerate(raw)]
            main = products[0]
            for k in PRODUCT_KEYS:
                if k in own and own[k] != getattr(main, k) and not _same_number(own[k], main, k):
                    raise ValueError(f"{k} differs from products[0].{k}")
                own[k] = getattr(main, k)
            own["riders"] = tuple(products[1:])
            own["main_key"] = main.key
            own["main_template_id"] = main.template_id
        missing = [
            n for n in ("customer_name", "customer_id_number", "product_name") if n not in own
        ]
        if missing:
            raise ValueError(f"policy data lacks {', '.join(missing)}")
        return cls(**own)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object; ``products`` appears only for a combined sale, so a one-product
        policy is written exactly as before."""
        out = asdict(self)
        for k in ("riders", "main_key", "main_template_id"):
            out.pop(k)
        if self.riders or self.main_key != MAIN_KEY or self.main_template_id:
            out["products"] = [p.to_dict() for p in self.products]
        return out

    def placeholders(self, product: str | None = None) -> dict[str, str]:
        """Values for ``{name}`` placeholders in script templates; the product fields are those
        of ``product`` (a key; None: the main product)."""
        out = {
            k: _text(getattr(self, k))
            for k in (
                "customer_name",
                "customer_id_number",
                "salesperson_name",
                "institution",
                "cooling_off_days",
                "customer_photo",
                "salesperson_photo",
            )
        }
        out.update(self.product(product).placeholders())
        out["main_product_name"] = self.product_name
        out["product_names"] = "、".join(p.product_name for p in self.products)
        out["rider_names"] = "、".join(p.product_name for p in self.riders)
        out["product_count"] = str(len(self.products))
        out["total_premium"] = format_amount(self.total_premium)
        return out


def format_amount(value: float | None) -> str:
    """Yuan as written in a script: 12000 (integer when whole), 12.5; "" when unknown."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _check_type(product_type: str) -> None:
    if product_type not in PRODUCT_TYPES:
        raise ValueError(
            f"product_type must be one of {', '.join(PRODUCT_TYPES)}, not {product_type!r}"
        )


#: Fields the code sets, never read from the policy JSON.
_NOT_JSON = frozenset({"riders", "main_key", "main_template_id", "role"})


@functools.cache
def _json_fields(cls: type) -> type[BaseModel]:
    """Pydantic's check of the JSON keys of ``cls`` (a dataclass above), typed as its fields.
    Strict: a name given as a number, or a premium given as true, is refused rather than
    converted. Finite: JSON ``Infinity``/``NaN`` and ``1e999`` (read as infinity) are refused;
    an infinite premium went on to render as "inf" in a script."""
    hints = typing.get_type_hints(cls)
    keys: dict[str, Any] = {
        f.name: (hints[f.name], None) for f in fields(cls) if f.name not in _NOT_JSON
    }
    config = ConfigDict(strict=True, allow_inf_nan=False, extra="ignore")
    return create_model(f"{cls.__name__}Json", __config__=config, **keys)


@functools.cache
def _number_fields(cls: type) -> dict[str, type]:
    """The numeric JSON keys of ``cls``: int or float (``int | None`` counts as int)."""
    out: dict[str, type] = {}
    for name, hint in typing.get_type_hints(cls).items():
        kinds = set(typing.get_args(hint)) or {hint}
        if float in kinds:
            out[name] = float
        elif int in kinds:
            out[name] = int
    return out


def _as_number(value: Any, kind: type) -> Any:
    """A number written the way a spreadsheet export or a hand-made file may write it, as the
    number it plainly is: "12000" or " 12000.5 " for a premium, 10.0 or "10" for years. Anything
    else (true, "ten", 10.5 years) is returned unchanged for the strict check to name."""
    if isinstance(value, str):
        text = value.strip()
        try:
            number: int | float = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return value
        if not math.isfinite(number):
            return value
        value = number
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def check_types(cls: type, values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``values`` with each number written as text ("12000") or as a whole float for an
    integer (10.0 years) read as that number; a ValueError naming the first field whose JSON
    value does not fit the field of ``cls`` (:class:`Policy` or :class:`Product`) otherwise.
    Unknown keys are ignored; values of the right type are kept as given (12000 stays an
    int), so nothing read correctly before is written differently now."""
    numbers = _number_fields(cls)
    read = {k: _as_number(v, numbers[k]) if k in numbers else v for k, v in values.items()}
    try:
        _json_fields(cls).model_validate(read)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in error["loc"])
        raise ValueError(f"{prefix}{field}: {error['msg']}") from None
    return read


def _same_number(value: Any, main: Product, key: str) -> bool:
    other = getattr(main, key)
    return (
        isinstance(value, int | float)
        and isinstance(other, int | float)
        and float(value) == float(other)
    )


def _product_from(item: Any, index: int) -> Product:
    where = f"products[{index}]"
    if not isinstance(item, dict):
        raise ValueError(f"{where} must be an object")
    if not item.get("product_name"):
        raise ValueError(f"{where} lacks product_name")
    known = set(PRODUCT_KEYS) | {"key", "template_id"}
    values = {k: v for k, v in item.items() if k in known}
    values = check_types(Product, values, f"{where}.")
    values.setdefault("key", MAIN_KEY if index == 0 else f"rider{index}")
    try:
        return Product(**values, role="main" if index == 0 else "rider")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None
