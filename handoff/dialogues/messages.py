"""The messages of a flow file: the seeds' HSL chat elements (``TEXT``, ``BUTTON``,
``QUICK_REPLY``), a plain string standing for a ``TEXT`` element, and ``hsl_from`` (what an
action returned). Every string in them is a template, parsed here."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from handoff.dialogues.templates import check_template

__all__ = ["FlowModel", "HslData", "HslElement", "HslFrom", "HslItem", "Message", "check_templates"]


class FlowModel(BaseModel):
    """A part of a flow file: strict, frozen, and no unknown fields (a typo is an error)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def check_templates(value: Any) -> None:
    """Parse every string inside ``value`` as a template (raises ``ValueError``)."""
    if isinstance(value, str):
        check_template(value)
    elif isinstance(value, dict):
        for item in value.values():
            check_templates(item)
    elif isinstance(value, list):
        for item in value:
            check_templates(item)


class HslItem(BaseModel):
    """A button or quick reply, in the seeds' shape; extra keys (``uri``, ...) pass through."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    actionable_text: str = Field(min_length=1, max_length=200)
    payload: dict[str, Any] | str | None = None


class HslData(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    items: list[HslItem] = Field(default_factory=list, max_length=20)


class HslElement(FlowModel):
    """A chat element (the seeds' HSL): ``TEXT``, ``BUTTON`` or ``QUICK_REPLY``; texts are
    templates."""

    type: Literal["TEXT", "BUTTON", "QUICK_REPLY"]
    text: str = Field(max_length=4000)
    data: HslData = Field(default_factory=HslData)
    isNew: bool = False

    @model_validator(mode="after")
    def _check(self) -> HslElement:
        check_templates(self.model_dump(mode="json"))
        if self.type != "TEXT" and not self.data.items:
            raise ValueError(f"a {self.type} element needs data.items")
        return self


class HslFrom(FlowModel):
    """The HSL elements a variable holds (an action's output), e.g. ``output.message``."""

    hsl_from: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")


def _message_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "hsl_from" if "hsl_from" in value else "element"
    return "text"


Message = Annotated[
    Annotated[Annotated[str, Field(max_length=4000)], Tag("text")]
    | Annotated[HslElement, Tag("element")]
    | Annotated[HslFrom, Tag("hsl_from")],
    Discriminator(_message_kind),
]
"""A plain string is a ``TEXT`` element whose text is a template."""
