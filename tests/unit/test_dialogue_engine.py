"""The dialogue engine, pure: each node type, re-prompts, triggers, branches, hand-back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from handoff.dialogues.engine import MAX_STEPS, Engine
from handoff.dialogues.loader import load_file, load_flow
from handoff.dialogues.turns import (
    ActionDone,
    ExecuteHandoff,
    HandoffFailed,
    LeaveMessage,
    MessageLeft,
    OptionsDone,
    ProvideOptions,
    Returned,
    RunAction,
    SessionState,
    Step,
    UserInput,
)

DEMO = Path(__file__).resolve().parents[2] / "dialogues" / "demo_bot.yaml"
FALLBACK = "Something broke."


def engine(nodes: list[dict[str, Any]], **flow: Any) -> Engine:
    return Engine(load_flow({"start": nodes[0]["id"], "nodes": nodes, **flow}, file="t"), FALLBACK)


def texts(step: Step) -> list[str]:
    return [m["text"] for m in step.messages]


def text(e: Engine, state: SessionState, value: str) -> Step:
    return e.handle(state, UserInput(text=value))


ASK = {
    "id": "ask",
    "type": "ask",
    "entity": "order_id",
    "prompt": ["Order id?"],
    "regex": r"^[a-z]{3}\d{3}$",
    "retry": ["Three letters, three digits."],
    "max_retries": 1,
    "on_fail": "human",
    "next": "thanks",
}
THANKS = {"id": "thanks", "type": "say", "messages": ["Got {{ entities.order_id }}."]}
HUMAN = {"id": "human", "type": "handoff", "mode": "execute_handoff", "reason": "help"}


def test_say_chains_to_next_and_waits_without_one() -> None:
    e = engine(
        [
            {"id": "a", "type": "say", "messages": ["one", "two"], "next": "b"},
            {"id": "b", "type": "say", "messages": [{"type": "TEXT", "text": "three"}]},
        ]
    )
    step = e.handle(SessionState(), UserInput())
    assert texts(step) == ["one", "two", "three"]
    assert step.state.node == "b" and step.state.status == "bot" and step.effect is None
    again = text(e, step.state, "what?")
    assert texts(again) == ["Sorry, I didn't get that."] and again.state.node == "b"


def test_ask_collects_a_regex_entity_and_reprompts_then_branches_on_failure() -> None:
    e = engine([ASK, THANKS, HUMAN])
    state = e.handle(SessionState(), UserInput()).state
    bad = text(e, state, "ABC-1")
    assert texts(bad) == ["Three letters, three digits."] and bad.state.retries == 1
    good = text(e, bad.state, " abc123 ")
    assert texts(good) == ["Got abc123."] and good.state.entities == {"order_id": "abc123"}
    assert good.state.retries == 0
    # max_retries 1: the second bad answer goes to on_fail.
    worse = text(e, text(e, state, "x").state, "y")
    assert isinstance(worse.effect, ExecuteHandoff) and worse.state.status == "with_agent"


def test_ask_by_choices_matches_any_case_and_keeps_the_choice_as_written() -> None:
    e = engine(
        [
            {
                "id": "size",
                "type": "ask",
                "entity": "size",
                "prompt": ["Size?"],
                "choices": ["Small", "Large"],
                "next": "done",
            },
            {"id": "done", "type": "end", "messages": ["{{ entities.size }} it is."]},
        ]
    )
    state = e.handle(SessionState(), UserInput()).state
    assert texts(text(e, state, "medium"))[0].startswith("Sorry")
    done = e.handle(state, UserInput(payload="large"))
    assert texts(done) == ["Large it is."] and done.state.status == "ended"
    restarted = text(e, done.state, "hello")
    assert texts(restarted) == ["Size?"] and restarted.state.entities == {}


def test_an_action_runs_as_an_effect_and_its_output_drives_cases_and_templates() -> None:
    e = engine(
        [
            {**ASK, "next": "lookup", "on_fail": None},
            {
                "id": "lookup",
                "type": "action",
                "action": "order_status",
                "cases": [
                    {"when": {"variable": "output.status", "equals": "lost"}, "goto": "sorry"}
                ],
                "next": "show",
            },
            {
                "id": "show",
                "type": "say",
                "messages": ["Your order {{ output.status }}", {"hsl_from": "output.message"}],
            },
            {"id": "sorry", "type": "say", "messages": ["Sorry, it is lost."]},
        ]
    )
    state = e.handle(SessionState(user={"user_id": "u"}), UserInput()).state
    run = text(e, state, "abc123")
    assert run.messages == [] and isinstance(run.effect, RunAction)
    assert run.effect.action == "order_status"
    assert run.effect.entities == {
        "order_id": [
            {
                "entity_name": "order_id",
                "entity_value": {"value": "abc123"},
                "original_text": "abc123",
            }
        ]
    }
    assert run.effect.event == {"message": "abc123", "payload": None}
    button = '{"type": "BUTTON", "text": "Track", "data": {"items": []}}'
    shown = e.handle(
        run.state, ActionDone(ok=True, output={"status": "shipped", "message": [button]})
    )
    assert texts(shown) == ["Your order shipped", "Track"]
    assert shown.state.variables["output"]["status"] == "shipped"
    lost = e.handle(run.state, ActionDone(ok=True, output={"status": "lost"}))
    assert texts(lost) == ["Sorry, it is lost."]


ACTION_ONLY = [
    {"id": "go", "type": "say", "messages": ["Go"], "next": "run"},
    {"id": "run", "type": "action", "action": "x", "next": "after"},
    {"id": "after", "type": "say", "messages": ["after"]},
]


def test_a_bot_break_says_the_fallback_and_ends_or_escalates_with_the_error() -> None:
    e = engine(ACTION_ONLY)
    run = e.handle(SessionState(), UserInput())
    broke = e.handle(run.state, ActionDone(ok=False, error={"kind": "timeout", "message": "20 s"}))
    assert texts(broke) == [FALLBACK] and broke.state.status == "ended" and broke.effect is None
    up = e.handle(
        run.state,
        ActionDone(ok=False, error={"kind": "exception", "message": "boom"}, escalate=True),
    )
    assert texts(up) == [FALLBACK] and up.state.status == "with_agent"
    assert isinstance(up.effect, ExecuteHandoff)
    assert up.effect.reason == "bot break in action 'x': exception: boom"
    assert up.effect.error == {"kind": "exception", "message": "boom"}
    with_on_break = engine(
        [{**ACTION_ONLY[0]}, {**ACTION_ONLY[1], "on_break": "after"}, ACTION_ONLY[2]],
        fallback="Own fallback.",
    )
    run = with_on_break.handle(SessionState(), UserInput())
    went = with_on_break.handle(run.state, ActionDone(ok=False, escalate=True))
    assert texts(went) == ["Own fallback.", "after"] and went.effect is None


def test_branch_conditions_equals_in_exists_regex_and_expr() -> None:
    def route(when: dict[str, Any], variables: dict[str, Any], entities: dict[str, str]) -> str:
        e = engine(
            [
                {
                    "id": "b",
                    "type": "branch",
                    "cases": [{"when": when, "goto": "yes"}],
                    "default": "no",
                },
                {"id": "yes", "type": "say", "messages": ["yes"]},
                {"id": "no", "type": "say", "messages": ["no"]},
            ]
        )
        state = SessionState(node="b", status="bot", variables=variables, entities=entities)
        return texts(e.handle(state, UserInput()))[0]

    assert route({"variable": "output.n", "equals": 3}, {"output": {"n": 3}}, {}) == "yes"
    assert route({"entity": "n", "equals": 3}, {}, {"n": "3"}) == "yes"  # "3" from a person
    assert route({"variable": "output.ok", "equals": False}, {"output": {"ok": False}}, {}) == "yes"
    assert route({"variable": "output.ok", "equals": False}, {"output": {"ok": 0}}, {}) == "no"
    assert route({"entity": "size", "in": ["S", "M"]}, {}, {"size": "M"}) == "yes"
    assert route({"entity": "size", "exists": True}, {}, {}) == "no"
    assert route({"entity": "size", "exists": False}, {}, {}) == "yes"
    assert route(
        {"variable": "output.tier", "regex": "^gold"}, {"output": {"tier": "golden"}}, {}
    ) == ("yes")
    assert route({"variable": "missing.path", "equals": 1}, {}, {}) == "no"
    assert (
        route(
            {"expr": "output.total > 100 and entities.vip == 'y'"},
            {"output": {"total": 150}},
            {"vip": "y"},
        )
        == "yes"
    )
    # A name the expression does not find is false, not an error.
    assert route({"expr": "output.nothing > 1"}, {}, {}) == "no"
    # The sandbox refuses attribute tricks: false, not a leak.
    assert route({"expr": "output.__class__.__mro__"}, {"output": {}}, {}) == "no"


def test_global_triggers_jump_from_anywhere_by_payload_keyword_or_regex() -> None:
    e = engine(
        [ASK, THANKS, HUMAN, {"id": "refunds", "type": "say", "messages": ["Refunds: 3 days."]}],
        triggers=[
            {"payloads": ["/agent"], "keywords": ["agent", "Human"], "goto": "human"},
            {"regex": "(?i)refund", "goto": "refunds"},
        ],
    )
    state = e.handle(SessionState(), UserInput()).state
    for given in (UserInput(payload="/agent"), UserInput(text="HUMAN"), UserInput(text=" agent ")):
        step = e.handle(state, given)
        assert isinstance(step.effect, ExecuteHandoff), given
    assert texts(text(e, state, "I want a REFUND now")) == ["Refunds: 3 days."]
    # A keyword is the whole message, not a word in it: this is an (invalid) order id.
    assert texts(text(e, state, "my agent said"))[0] == "Three letters, three digits."
    # From a fresh session too: the first message may be a trigger.
    assert isinstance(e.handle(SessionState(), UserInput(text="agent")).effect, ExecuteHandoff)


def test_provide_handoff_options_shows_the_presets_or_the_nodes_messages_and_routes_the_pick() -> (
    None
):
    e = engine(
        [
            {
                "id": "offer",
                "type": "handoff",
                "mode": "provide_handoff_options",
                "team": "sales",
                "messages": ["Want a human?"],
                "routes": {"/handoff": "human", "no": "bye"},
                "if_unavailable": "bye",
            },
            HUMAN,
            {"id": "bye", "type": "end", "messages": ["Bye."]},
        ]
    )
    step = e.handle(SessionState(), UserInput())
    assert step.effect == ProvideOptions("offer", "sales") and step.messages == []
    preset = [{"type": "BUTTON", "text": "Chat (about 3 min)", "data": {"items": []}}]
    shown = e.handle(step.state, OptionsDone(available=True, messages=preset))
    assert shown.messages == preset and shown.state.node == "offer"
    own = e.handle(step.state, OptionsDone(available=None))
    assert texts(own) == ["Want a human?"]
    closed = e.handle(step.state, OptionsDone(available=False, messages=preset))
    assert closed.messages[0] == preset[0] and texts(closed)[1] == "Bye."
    picked = e.handle(shown.state, UserInput(payload="/handoff"))
    assert isinstance(picked.effect, ExecuteHandoff) and picked.effect.reason == "help"
    assert texts(text(e, shown.state, "NO")) == ["Bye."]
    assert texts(text(e, shown.state, "maybe")) == ["Sorry, I didn't get that."]


def test_the_hand_back_follows_on_return_with_the_agents_variables() -> None:
    e = engine(
        [
            {
                **HUMAN,
                "reason": "for {{ entities.x }}",
                "on_return": {"back_to_bot": "back", "default": "other"},
            },
            {"id": "back", "type": "say", "messages": ["Refund {{ variables.refund_id }}."]},
            {"id": "other", "type": "say", "messages": ["Other end."]},
            {"id": "flow_default", "type": "say", "messages": ["Flow default."]},
        ],
        on_return={"timeout": "flow_default"},
    )
    # A fresh session forgets what it had, so the state is one already in the flow.
    step = e.handle(SessionState(node="human", status="bot", entities={"x": "y"}), UserInput())
    assert isinstance(step.effect, ExecuteHandoff) and step.effect.reason == "for y"
    assert step.effect.entities == {"x": "y"}
    waiting = text(e, step.state, "hello?")
    assert texts(waiting) == ["You're chatting with an agent."] and waiting.state == step.state
    back = e.handle(step.state, Returned("back_to_bot", {"refund_id": "R9"}))
    assert texts(back) == ["Refund R9."] and back.state.variables == {"refund_id": "R9"}
    assert back.state.status == "bot"
    assert texts(e.handle(step.state, Returned("abandoned"))) == ["Other end."]
    assert texts(e.handle(step.state, Returned("no_such_key"))) == ["Other end."]
    failed = e.handle(step.state, HandoffFailed("taken"))
    assert texts(failed) == [FALLBACK] and failed.state.status == "ended"


def test_return_without_on_return_uses_the_flows_then_the_start() -> None:
    e = engine(
        [
            {"id": "s", "type": "say", "messages": ["start"], "next": "h"},
            {**HUMAN, "id": "h"},
            {"id": "t", "type": "say", "messages": ["timed out"]},
        ],
        on_return={"timeout": "t"},
    )
    state = e.handle(SessionState(), UserInput()).state
    assert texts(e.handle(state, Returned("timeout"))) == ["timed out"]
    assert texts(e.handle(state, Returned("resolved")))[0] == "start"


def test_a_template_that_fails_at_run_time_is_the_fallback_not_an_error() -> None:
    e = engine(
        [
            {
                "id": "a",
                "type": "say",
                "messages": ["ok", "{{ output.nothing }}", "{{ 1 / 0 }}", "{{ ''.__class__ }}"],
            },
        ]
    )
    assert texts(e.handle(SessionState(), UserInput())) == ["ok", FALLBACK, FALLBACK, FALLBACK]


def test_a_loop_of_nodes_stops_with_the_fallback() -> None:
    e = engine(
        [
            {
                "id": "a",
                "type": "branch",
                "cases": [{"when": {"entity": "x", "exists": True}, "goto": "b"}],
                "default": "b",
            },
            {
                "id": "b",
                "type": "branch",
                "cases": [{"when": {"entity": "x", "exists": True}, "goto": "a"}],
                "default": "a",
            },
        ]
    )
    step = e.handle(SessionState(), UserInput())
    assert texts(step) == [FALLBACK] and step.state.status == "ended"
    assert MAX_STEPS >= 50


def test_a_turn_stopped_mid_action_runs_the_action_again() -> None:
    e = engine(ACTION_ONLY)
    step = e.handle(SessionState(node="run", status="bot"), UserInput(text="anything"))
    assert isinstance(step.effect, RunAction)


@pytest.mark.parametrize(
    ("turns", "last"),
    [
        ([UserInput()], "What can I help you with?"),
        ([UserInput(), UserInput(text="opening hours")], "Anything else?"),
        (
            [UserInput(), UserInput(payload="/order"), UserInput(text="nope")],
            "That doesn't look like an order id: three letters, then three digits, like abc123.",
        ),
    ],
)
def test_the_demo_flow(turns: list[UserInput], last: str) -> None:
    e = Engine(load_file(DEMO), FALLBACK)
    state = SessionState()
    step = None
    for given in turns:
        step = e.handle(state, given)
        state = step.state
    assert step is not None and step.messages[-1]["text"] == last


def test_a_regex_that_backtracks_forever_is_no_match_not_a_stalled_server() -> None:
    e = engine([{**ASK, "regex": r"^(a|aa)+$", "max_retries": 5}, THANKS, HUMAN])
    state = e.handle(SessionState(), UserInput()).state
    step = text(e, state, "a" * 4000 + "!")
    assert texts(step) == ["Three letters, three digits."] and step.state.retries == 1
    assert texts(text(e, state, "aaaa")) == ["Got aaaa."]


FREE = {
    "id": "note",
    "type": "ask",
    "entity": "message",
    "prompt": ["Your message?"],
    "max_length": 20,
    "text_triggers": False,
    "retry": ["Please type a message."],
    "next": "leave",
}
LEAVE = {
    "id": "leave",
    "type": "handoff",
    "mode": "leave_message",
    "messages": ["Stored."],
    "next": "done",
    "on_fail": "done",
}
DONE = {"id": "done", "type": "say", "messages": ["We'll write to {{ entities.contact }}."]}
CONTACT = {
    "id": "contact",
    "type": "ask",
    "entity": "contact",
    "prompt": ["Email?"],
    "regex": r"^\S+@\S+$",
    "next": "note",
}
MENU_TRIGGER = [{"keywords": ["menu"], "payloads": ["/menu"], "goto": "contact"}]


def test_free_text_ask_takes_any_text_within_its_length_and_ignores_text_triggers() -> None:
    e = engine([CONTACT, FREE, LEAVE, DONE], triggers=MENU_TRIGGER)
    state = e.handle(SessionState(), UserInput()).state
    state = text(e, state, "thandi@example.com").state
    assert state.node == "note"
    # Blank, and over max_length: re-prompted, nothing kept.
    for bad in ("   ", "x" * 21):
        step = text(e, state, bad)
        assert texts(step) == ["Please type a message."] and "message" not in step.state.entities
        state = step.state
    # Typed text that is a trigger's keyword is the message here; a button still jumps.
    step = text(e, state, "menu")
    assert step.state.entities["message"] == "menu"
    assert step.effect == LeaveMessage("leave", "thandi@example.com", "menu")
    jumped = e.handle(state, UserInput(payload="/menu"))
    assert jumped.state.node == "contact" and jumped.effect is None


def test_leave_message_is_an_effect_then_next_or_the_fallback_and_on_fail() -> None:
    e = engine([CONTACT, FREE, LEAVE, DONE])
    state = e.handle(SessionState(), UserInput()).state
    state = text(e, state, "a@b.co").state
    step = text(e, state, "call me back")
    assert step.effect == LeaveMessage("leave", "a@b.co", "call me back")
    assert step.state.node == "leave" and step.state.status == "bot"
    stored = e.handle(step.state, MessageLeft(True))
    assert texts(stored) == ["Stored.", "We'll write to a@b.co."] and stored.effect is None
    failed = e.handle(step.state, MessageLeft(False, "message: too long"))
    assert texts(failed) == [FALLBACK, "We'll write to a@b.co."]
    assert failed.state.status == "bot" and failed.state.node == "done"
    # Without on_fail the conversation ends; the next message starts it again.
    e = engine([CONTACT, FREE, {**LEAVE, "on_fail": None}, DONE])
    failed = e.handle(step.state, MessageLeft(False, "store down"))
    assert texts(failed) == [FALLBACK] and failed.state.status == "ended"


def test_leave_message_without_the_entities_is_the_fallback_not_an_effect() -> None:
    custom = {**LEAVE, "contact_entity": "email", "message_entity": "note"}
    e = engine([{**SAY_GO, "next": "leave"}, custom, {**DONE, "messages": ["Done."]}])
    step = e.handle(SessionState(), UserInput())
    assert step.effect is None and texts(step) == ["Go.", FALLBACK, "Done."]
    state = SessionState(node="go", status="bot", entities={"email": "e@x.io", "note": "hi"})
    assert e.handle(state, UserInput()).effect == LeaveMessage("leave", "e@x.io", "hi")


SAY_GO = {"id": "go", "type": "say", "messages": ["Go."]}
