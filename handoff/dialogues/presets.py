"""The preset dialogues ``provide_handoff_options`` and ``execute_handoff``, as data.

Each is a YAML file in the top-level ``dialogues/`` folder: texts per language,
the options (buttons) and under which conditions each shows. A file is parsed
with PyYAML's ``safe_load``, validated with the models below, and every template
compiled, when it is loaded: a bad file is refused then, naming the file, the
node and what is wrong (:class:`PresetError`). A bot's own overrides (the same
shape, partial) are merged over the shipped files with :meth:`Presets.merged`.

Templates are Jinja2 in a ``SandboxedEnvironment`` with ``StrictUndefined``. A
template that fails while rendering (a variable an override names that is not
there) is logged and the default language's text of the same key is used; if
that fails too, the text is shown untemplated.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from handoff.shipped import shipped_dir

__all__ = [
    "CONDITIONS",
    "DEFAULT_LANGUAGE",
    "PRESETS_DIR",
    "PresetError",
    "Presets",
    "Rendered",
]

log = logging.getLogger(__name__)

PRESETS_DIR: Final = shipped_dir("dialogues")
"""The shipped files: the top-level ``dialogues/`` folder (see :mod:`handoff.shipped`)."""

DEFAULT_LANGUAGE: Final = "en"
"""Every preset has complete texts in it; any other language falls back to it."""

CONDITIONS: Final[dict[str, tuple[str, ...]]] = {
    "provide_handoff_options": (
        "agents_available",
        "all_agents_busy",
        "no_agent_online",
        "outside_business_hours",
        "queue_full",
    ),
    "execute_handoff": ("queued", "queued_no_estimate", "no_agent_online"),
}
"""What each preset says something for: the options reasons, the states after a handoff."""

_DAY_KEYS: Final = frozenset({"mon", "tue", "wed", "thu", "fri", "sat", "sun", "today", "tomorrow"})


class PresetError(Exception):
    """A preset file (or override) that cannot be used: which file, where, and why."""

    def __init__(self, source: str, where: str, message: str) -> None:
        super().__init__(f"{source}: {where}: {message}")
        self.source = source
        self.where = where
        self.message = message


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Option(_Model):
    payload: str = Field(min_length=1, max_length=200)
    """What the widget sends back when the person picks it (the HSL item's ``payload.message``)."""
    show_when: list[str] = Field(min_length=1)
    """The conditions under which this option is offered."""


class LanguageTexts(_Model):
    name: str | None = None
    """The language's own name, for people reading the file."""
    say: dict[str, str] = Field(default_factory=dict)
    """The ``TEXT`` said under each condition."""
    prompt: str | None = None
    """The text of the element that carries the options."""
    options: dict[str, str] = Field(default_factory=dict)
    """Each option's label."""
    days: dict[str, str] = Field(default_factory=dict)
    """Weekday names (``mon`` .. ``sun``, ``today``, ``tomorrow``) as templates use them."""


class PresetDialogue(_Model):
    dialogue: Literal["provide_handoff_options", "execute_handoff"]
    style: Literal["BUTTON", "QUICK_REPLY"] = "BUTTON"
    """How the options are shown: buttons, or quick replies."""
    options: dict[str, Option] = Field(default_factory=dict)
    texts: dict[str, LanguageTexts]


@dataclass(frozen=True, slots=True)
class Rendered:
    language: str
    language_fallback: bool
    """True when the asked language has no texts and the default one was used."""
    messages: list[dict[str, Any]]


def _text_element(text: str) -> dict[str, Any]:
    return {"text": text, "type": "TEXT", "data": {}, "isNew": False}


def _options_element(style: str, prompt: str, items: list[tuple[str, str]]) -> dict[str, Any]:
    if style == "QUICK_REPLY":
        replies = [
            {"type": "TEXT_ONLY", "message": label, "payload": {"gogo_message": "", "message": p}}
            for label, p in items
        ]
        return {
            "text": prompt,
            "type": "QUICK_REPLY",
            "data": {"quick_replies": replies},
            "isNew": False,
        }
    buttons = [
        {
            "actionable_text": label,
            "location_required": False,
            "is_default": 0,
            "uri": "LAUNCH_CHANNEL",
            "type": "TEXT_ONLY",
            "payload": {"gogo_message": "", "message": p},
        }
        for label, p in items
    ]
    return {"text": prompt, "type": "BUTTON", "data": {"items": buttons}, "isNew": False}


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: mappings merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = _merge(old, value)
        else:
            merged[key] = value
    return merged


def _templates(dialogue: PresetDialogue) -> Iterator[tuple[str, str]]:
    for lang, texts in dialogue.texts.items():
        for key, text in texts.say.items():
            yield f"texts.{lang}.say.{key}", text
        for key, text in texts.options.items():
            yield f"texts.{lang}.options.{key}", text
        if texts.prompt is not None:
            yield f"texts.{lang}.prompt", texts.prompt


class _Checked:
    """One validated preset with its compiled templates."""

    def __init__(self, dialogue: PresetDialogue, env: SandboxedEnvironment, source: str) -> None:
        self.model = dialogue
        self.source = source
        self._check(dialogue)
        self.compiled: dict[str, jinja2.Template] = {}
        for where, text in _templates(dialogue):
            try:
                self.compiled[where] = env.from_string(text)
            except jinja2.TemplateSyntaxError as exc:
                raise PresetError(source, where, f"template error: {exc.message}") from None

    def _check(self, d: PresetDialogue) -> None:
        conditions = CONDITIONS[d.dialogue]

        def fail(where: str, message: str) -> PresetError:
            return PresetError(self.source, where, message)

        for name, option in d.options.items():
            for i, cond in enumerate(option.show_when):
                if cond not in conditions:
                    raise fail(f"options.{name}.show_when.{i}", f"unknown condition {cond!r}")
        default = d.texts.get(DEFAULT_LANGUAGE)
        if default is None:
            raise fail(
                "texts",
                f"the {DEFAULT_LANGUAGE!r} texts are missing (every other falls back to them)",
            )
        for cond in conditions:
            if cond not in default.say:
                raise fail(f"texts.{DEFAULT_LANGUAGE}.say", f"no text for {cond!r}")
        for name in d.options:
            if name not in default.options:
                raise fail(f"texts.{DEFAULT_LANGUAGE}.options", f"no label for option {name!r}")
        if d.options and default.prompt is None:
            raise fail(f"texts.{DEFAULT_LANGUAGE}.prompt", "missing (the options need it)")
        for lang, texts in d.texts.items():
            for key in texts.say:
                if key not in conditions:
                    raise fail(
                        f"texts.{lang}.say.{key}",
                        f"unknown condition; known: {', '.join(conditions)}",
                    )
            for key in texts.options:
                if key not in d.options:
                    raise fail(f"texts.{lang}.options.{key}", "no such option in options")
            for key in texts.days:
                if key not in _DAY_KEYS:
                    raise fail(
                        f"texts.{lang}.days.{key}", "not a day key (mon..sun, today, tomorrow)"
                    )


def _validate(raw: Any, source: str) -> PresetDialogue:
    if not isinstance(raw, Mapping):
        raise PresetError(source, "(top)", "must be a mapping")
    try:
        return PresetDialogue.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "(top)"
        raise PresetError(source, where, first.get("msg", "invalid")) from None


def _stamp(path: Path) -> tuple[int, int] | None:
    """When a file last changed and its size; ``None`` when it cannot be read."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


class Presets:
    """The preset dialogues, validated; render one for a condition and a language."""

    def __init__(self, raw: dict[str, dict[str, Any]], sources: dict[str, str]) -> None:
        self._env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
        self._raw = raw
        self._dialogues: dict[str, _Checked] = {}
        for name, data in raw.items():
            model = _validate(data, sources[name])
            if model.dialogue != name:
                raise PresetError(sources[name], "dialogue", f"must be {name!r}")
            self._dialogues[name] = _Checked(model, self._env, sources[name])
        for name in CONDITIONS:
            if name not in self._dialogues:
                raise PresetError(f"{name}.yaml", "(file)", "the preset is missing")

    @classmethod
    def load(cls, directory: Path = PRESETS_DIR) -> Presets:
        """Read ``<name>.yaml`` of each preset in ``directory``; :class:`PresetError` if bad.

        Presets never change once made, so files that have not changed since the last load
        in this process give the same object back (parsing and compiling them costs about
        0.1 s, which every app start would otherwise pay).
        """
        stamp = tuple(_stamp(directory / f"{name}.yaml") for name in CONDITIONS)
        return cls._load(directory, stamp)

    @classmethod
    @functools.lru_cache(maxsize=8)
    def _load(cls, directory: Path, stamp: tuple[tuple[int, int] | None, ...]) -> Presets:
        raw: dict[str, dict[str, Any]] = {}
        sources: dict[str, str] = {}
        for name in CONDITIONS:
            path = directory / f"{name}.yaml"
            sources[name] = str(path)
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise PresetError(str(path), "(file)", exc.strerror or str(exc)) from None
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
                raise PresetError(str(path), where, f"not valid YAML: {exc}") from None
            if not isinstance(data, dict):
                raise PresetError(str(path), "(top)", "must be a mapping")
            raw[name] = data
        return cls(raw, sources)

    def merged(self, overrides: Mapping[str, Any], *, source: str = "overrides") -> Presets:
        """These presets with a bot's overrides over them (same shape as the files, partial).

        ``overrides`` maps a preset's name to the parts to change, e.g.
        ``{"provide_handoff_options": {"texts": {"zu": {"say": {...}}}}}``.
        """
        raw = dict(self._raw)
        sources = {name: c.source for name, c in self._dialogues.items()}
        for name, part in overrides.items():
            if name not in CONDITIONS:
                raise PresetError(
                    source, str(name), f"unknown preset; known: {', '.join(CONDITIONS)}"
                )
            if not isinstance(part, Mapping):
                raise PresetError(source, str(name), "must be a mapping")
            raw[name] = _merge(raw[name], part)
            sources[name] = f"{source} ({name})"
        return Presets(raw, sources)

    def language_for(self, dialogue: str, code: str | None) -> tuple[str, bool]:
        """The language of ``dialogue`` to use for ``code`` and whether that is a fallback."""
        texts = self._dialogues[dialogue].model.texts
        if code:
            wanted = code.strip().lower().replace("_", "-")
            for candidate in (wanted, wanted.split("-", 1)[0]):
                if candidate in texts:
                    return candidate, False
        return DEFAULT_LANGUAGE, code is not None and bool(code.strip())

    def render(
        self, dialogue: str, condition: str, language: str | None, context: Mapping[str, Any]
    ) -> Rendered:
        """The chat elements ``dialogue`` shows under ``condition``, in ``language`` if it can."""
        checked = self._dialogues[dialogue]
        model = checked.model
        lang, fallback = self.language_for(dialogue, language)
        texts = model.texts[lang]
        default = model.texts[DEFAULT_LANGUAGE]
        days = {**default.days, **texts.days}
        ctx = {**context, "days": days}
        # A weekday key in the context becomes its name in this language.
        weekday = context.get("next_open_weekday")
        ctx["next_open_day"] = days.get(weekday, weekday) if isinstance(weekday, str) else None

        def text(part: str, key: str | None) -> str:
            path = f"{part}.{key}" if key else part
            own = f"texts.{lang}.{path}"
            if own not in checked.compiled:
                own = f"texts.{DEFAULT_LANGUAGE}.{path}"
            try:
                return checked.compiled[own].render(ctx).strip()
            except Exception as exc:
                log.warning("%s: %s failed to render: %s", checked.source, own, exc)
            base = f"texts.{DEFAULT_LANGUAGE}.{path}"
            if base != own:
                try:
                    return checked.compiled[base].render(ctx).strip()
                except Exception as exc:
                    log.warning("%s: %s failed to render: %s", checked.source, base, exc)
            return _source_of(model, own)

        messages = [_text_element(text("say", condition))]
        shown = [(n, o) for n, o in model.options.items() if condition in o.show_when]
        if shown:
            items = [(text("options", name), option.payload) for name, option in shown]
            messages.append(_options_element(model.style, text("prompt", None), items))
        return Rendered(lang, fallback, messages)


def _source_of(model: PresetDialogue, where: str) -> str:
    """The untemplated text at ``texts.<lang>.<part>[.<key>]``."""
    _, lang, part, *rest = where.split(".")
    texts = model.texts[lang]
    if part == "prompt":
        return texts.prompt or ""
    table: dict[str, str] = texts.say if part == "say" else texts.options
    return table[rest[0]]
