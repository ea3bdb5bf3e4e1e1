"""The preset dialogues: the shipped files, bad files refused by name, overrides, rendering."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import yaml

from handoff.dialogues.presets import CONDITIONS, PRESETS_DIR, PresetError, Presets


def copy_presets(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name in CONDITIONS:
        shutil.copy(PRESETS_DIR / f"{name}.yaml", tmp_path / f"{name}.yaml")
    return tmp_path


def edit(path: Path, change: object) -> None:
    data = yaml.safe_load(path.read_text())
    assert callable(change)
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))


def test_the_shipped_presets_load_and_speak_three_languages() -> None:
    presets = Presets.load()
    for lang in ("en", "zu", "af"):
        for reason in CONDITIONS["provide_handoff_options"]:
            rendered = presets.render(
                "provide_handoff_options",
                reason,
                lang,
                {"minutes": 3, "next_open_weekday": "mon", "next_open_time": "08:00"},
            )
            assert rendered.language == lang and not rendered.language_fallback
            text = rendered.messages[0]
            assert text["type"] == "TEXT" and text["text"] and "{" not in text["text"]
            buttons = rendered.messages[1]
            assert buttons["type"] == "BUTTON"
            payloads = [i["payload"]["message"] for i in buttons["data"]["items"]]
            assert "/back_to_bot" in payloads
            assert ("/handoff" in payloads) == (reason in ("agents_available", "all_agents_busy"))
    en = presets.render("provide_handoff_options", "agents_available", "en", {"minutes": 3})
    assert en.messages[0]["text"] == "An agent can help you (about 3 min)."
    labels = [i["actionable_text"] for i in en.messages[1]["data"]["items"]]
    assert labels == ["Chat with an agent (about 3 min)", "Back to the bot"]


def test_next_opening_is_said_in_the_persons_language() -> None:
    presets = Presets.load()
    ctx = {"minutes": None, "next_open_weekday": "mon", "next_open_time": "08:00"}
    zu = presets.render("provide_handoff_options", "outside_business_hours", "zu", ctx)
    assert "ngoMsombuluko ngo-08:00" in zu.messages[0]["text"]
    af = presets.render("provide_handoff_options", "outside_business_hours", "af-ZA", ctx)
    assert af.language == "af" and "op Maandag om 08:00" in af.messages[0]["text"]
    en = presets.render(
        "provide_handoff_options",
        "outside_business_hours",
        "en",
        {**ctx, "next_open_weekday": "tomorrow"},
    )
    assert "We open again tomorrow at 08:00." in en.messages[0]["text"]


def test_a_language_without_texts_falls_back_to_english_and_says_so() -> None:
    presets = Presets.load()
    rendered = presets.render("execute_handoff", "queued", "xh", {"position": 2, "minutes": 4})
    assert rendered.language == "en" and rendered.language_fallback
    assert rendered.messages == [
        {
            "text": "You're number 2 in line. An agent will be with you in about 4 min.",
            "type": "TEXT",
            "data": {},
            "isNew": False,
        }
    ]
    assert presets.language_for("execute_handoff", None) == ("en", False)


@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        (
            lambda d: d["options"]["handoff"].update(show_when=["sometimes"]),
            "options.handoff.show_when.0",
            "unknown condition",
        ),
        (lambda d: d["texts"]["en"]["say"].pop("queue_full"), "texts.en.say", "queue_full"),
        (
            lambda d: d["texts"]["zu"]["say"].update(raining="Liyana"),
            "texts.zu.say.raining",
            "unknown condition",
        ),
        (
            lambda d: d["texts"]["af"]["say"].update(queue_full="{% if %}"),
            "texts.af.say.queue_full",
            "template error",
        ),
        (lambda d: d["texts"]["en"].update(colour="blue"), "texts.en.colour", "Extra inputs"),
        (lambda d: d["options"]["handoff"].update(payload=7), "options.handoff.payload", "string"),
        (lambda d: d.update(style="CAROUSEL"), "style", "BUTTON"),
        (lambda d: d["texts"].pop("en"), "texts", "'en' texts are missing"),
        (
            lambda d: d["texts"]["zu"]["options"].update(call_me="Ngishayele"),
            "texts.zu.options.call_me",
            "no such option",
        ),
        (lambda d: d.update(dialogue="execute_handoff"), "dialogue", "provide_handoff_options"),
    ],
)
def test_an_invalid_file_is_refused_naming_file_node_and_field(
    tmp_path: Path, change: object, where: str, words: str
) -> None:
    directory = copy_presets(tmp_path)
    path = directory / "provide_handoff_options.yaml"
    edit(path, change)
    with pytest.raises(PresetError) as caught:
        Presets.load(directory)
    assert caught.value.source == str(path)
    assert caught.value.where == where
    assert words in caught.value.message
    assert str(path) in str(caught.value) and where in str(caught.value)


def test_yaml_that_does_not_parse_is_refused_with_its_line(tmp_path: Path) -> None:
    directory = copy_presets(tmp_path)
    path = directory / "execute_handoff.yaml"
    path.write_text("dialogue: execute_handoff\ntexts:\n  en: [unclosed\n")
    with pytest.raises(PresetError) as caught:
        Presets.load(directory)
    assert caught.value.source == str(path) and caught.value.where.startswith("line ")
    (directory / "execute_handoff.yaml").unlink()
    with pytest.raises(PresetError, match=r"execute_handoff\.yaml"):
        Presets.load(directory)


def test_overrides_change_texts_and_options_without_code() -> None:
    presets = Presets.load().merged(
        {
            "provide_handoff_options": {
                "style": "QUICK_REPLY",
                "options": {
                    "call_back": {"payload": "/call_back", "show_when": ["no_agent_online"]}
                },
                "texts": {
                    "en": {"options": {"call_back": "Call me back"}},
                    "zu": {
                        "say": {"no_agent_online": "Sawubona {{ user.name }}, akekho umuntu manje."}
                    },
                },
            }
        }
    )
    zu = presets.render(
        "provide_handoff_options", "no_agent_online", "zu", {"user": {"name": "Thandi"}}
    )
    assert zu.messages[0]["text"] == "Sawubona Thandi, akekho umuntu manje."
    replies = zu.messages[1]
    assert replies["type"] == "QUICK_REPLY"
    assert [(r["message"], r["payload"]["message"]) for r in replies["data"]["quick_replies"]] == [
        ("Shiya umlayezo", "/leave_message"),
        ("Buyela kubhothi", "/back_to_bot"),
        ("Call me back", "/call_back"),  # no isiZulu label: the English one
    ]
    # The shipped presets are unchanged.
    plain = Presets.load().render("provide_handoff_options", "no_agent_online", "zu", {})
    assert plain.messages[0]["text"].startswith("Akekho umenzeli")


def test_bad_overrides_are_refused_by_name() -> None:
    base = Presets.load()
    with pytest.raises(PresetError) as caught:
        base.merged(
            {"provide_handoff_options": {"texts": {"af": {"say": {"queue_full": "{{ oops"}}}}},
            source="bots/shop.yaml",
        )
    assert caught.value.source == "bots/shop.yaml (provide_handoff_options)"
    assert caught.value.where == "texts.af.say.queue_full"
    with pytest.raises(PresetError, match="unknown preset"):
        base.merged({"say_goodbye": {}})


def test_a_template_failing_at_render_falls_back_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    presets = Presets.load().merged(
        {
            "execute_handoff": {
                "texts": {
                    "zu": {"say": {"queued": "Sawubona {{ user.surname }}!"}},
                    "en": {"say": {"queued_no_estimate": "Hello {{ user.surname }}!"}},
                }
            }
        }
    )
    with caplog.at_level(logging.WARNING, logger="handoff.dialogues.presets"):
        zu = presets.render(
            "execute_handoff", "queued", "zu", {"position": 1, "minutes": 2, "user": {}}
        )
    # The English text of the same key, rendered.
    assert (
        zu.messages[0]["text"] == "You're next in line. An agent will be with you in about 2 min."
    )
    assert "texts.zu.say.queued" in caplog.text
    # No good text to fall back to: the text untemplated.
    en = presets.render("execute_handoff", "queued_no_estimate", "en", {"position": 1, "user": {}})
    assert en.messages[0]["text"] == "Hello {{ user.surname }}!"


def test_templates_are_sandboxed() -> None:
    presets = Presets.load().merged(
        {"execute_handoff": {"texts": {"af": {"say": {"queued": "{{ user.__class__.__mro__ }}"}}}}}
    )
    rendered = presets.render(
        "execute_handoff", "queued", "af", {"position": 3, "minutes": 1, "user": {}}
    )
    # The sandbox refuses the attribute: the English text is shown instead.
    assert rendered.messages[0]["text"].startswith("You're number 3 in line")


def test_a_broken_shipped_file_stops_the_server_from_starting(tmp_path: Path) -> None:
    from handoff.app import create_app
    from tests.conftest import make_settings

    directory = copy_presets(tmp_path / "dialogues")
    edit(
        directory / "execute_handoff.yaml",
        lambda d: d["texts"]["zu"].update(say=["not", "a", "map"]),
    )
    with pytest.raises(PresetError) as caught:
        create_app(make_settings(tmp_path), presets_dir=directory)
    assert str(directory / "execute_handoff.yaml") in str(caught.value)
    assert caught.value.where == "texts.zu.say"
