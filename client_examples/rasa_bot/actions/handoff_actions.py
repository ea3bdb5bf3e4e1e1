"""Two Rasa custom actions (rasa-sdk) that drive a handoff server over its REST API.

``action_handoff_options`` asks ``provide_handoff_options`` whether a human can take the
conversation now, shows the person what the server suggests (text and buttons, in the
person's language), and sets slots the stories can branch on. ``action_execute_handoff``
hands the conversation over with what Rasa knows: the person, the slots as entities, the
reason, and the transcript of the conversation so far (so the widget is not asked for
it); it tells the channel where the widget connects.

Configured by the environment of the action server:
``HANDOFF_URL`` (default http://127.0.0.1:8080), ``HANDOFF_BOT_ID``, ``HANDOFF_API_KEY``.
The Rasa conversation id (``sender_id``) is the handoff ``ConversationID``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import aiohttp
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

log = logging.getLogger(__name__)

# Slots the handoff actions read and set (declare them in the bot's domain).
NAME_SLOT = "name"
LANGUAGE_SLOT = "language"
AVAILABLE_SLOT = "handoff_available"
REASON_SLOT = "handoff_reason"
WAIT_SLOT = "handoff_wait_seconds"
CONVERSATION_SLOT = "handoff_conversation_id"
# Slots that are the handoff's own, not something the bot collected about the person.
OWN_SLOTS = {NAME_SLOT, LANGUAGE_SLOT, AVAILABLE_SLOT, REASON_SLOT, WAIT_SLOT, CONVERSATION_SLOT}
TIMEOUT = aiohttp.ClientTimeout(total=10)


class HandoffError(Exception):
    """The server refused or could not be reached; the action says so to the person."""


async def call_handoff(path: str, body: dict[str, Any]) -> dict[str, Any]:
    base = os.environ.get("HANDOFF_URL", "http://127.0.0.1:8080").rstrip("/")
    url = f"{base}/api/v1/bots/{os.environ['HANDOFF_BOT_ID']}{path}"
    headers = {"Authorization": f"Bearer {os.environ['HANDOFF_API_KEY']}"}
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            async with http.post(url, json=body, headers=headers) as resp:
                answer = await resp.json()
                if resp.status >= 300:
                    error = answer.get("error", {})
                    raise HandoffError(f"{resp.status} {error.get('code')}: {error.get('message')}")
                return dict(answer)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise HandoffError(f"the handoff server is unreachable: {exc}") from exc


def utter(dispatcher: CollectingDispatcher, elements: list[dict[str, Any]]) -> None:
    """The server's chat elements (TEXT, BUTTON, QUICK_REPLY) as Rasa messages."""
    for element in elements:
        # The seeds' HSL shape: a BUTTON's data.items, a QUICK_REPLY's data.quick_replies,
        # each sending back payload.message.
        data = element.get("data") or {}
        buttons = []
        for item in data.get("items", []) + data.get("quick_replies", []):
            payload = item.get("payload")
            sent = payload.get("message", "") if isinstance(payload, dict) else payload or ""
            title = item.get("actionable_text") or item.get("message") or ""
            buttons.append({"title": title, "payload": sent})
        text = element.get("text") or element.get("title")
        if text or buttons:
            dispatcher.utter_message(text=text, buttons=buttons or None)


def person(tracker: Tracker) -> dict[str, Any]:
    name = tracker.get_slot(NAME_SLOT)
    return {"id": tracker.sender_id, **({"name": name} if name else {})}


def language(tracker: Tracker) -> str:
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    return str(tracker.get_slot(LANGUAGE_SLOT) or metadata.get("language") or "en")


def transcript(tracker: Tracker) -> list[dict[str, str]]:
    """What the person and the bot said so far, from the tracker's events."""
    said = []
    for event in tracker.events:
        if event.get("event") in ("user", "bot") and event.get("text"):
            said.append({"sender": event["event"], "message": str(event["text"])[:4000]})
    return said[-200:]


class ActionHandoffOptions(Action):
    def name(self) -> str:
        return "action_handoff_options"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        body = {
            "ConversationID": tracker.sender_id,
            "language_code": language(tracker),
            "user": person(tracker),
        }
        try:
            options = await call_handoff("/handoff/options", body)
        except HandoffError as exc:
            log.warning("provide_handoff_options failed: %s", exc)
            dispatcher.utter_message(text="Sorry, I can't reach a person right now.")
            return [SlotSet(AVAILABLE_SLOT, False), SlotSet(REASON_SLOT, "unreachable")]
        utter(dispatcher, options.get("messages", []))
        return [
            SlotSet(AVAILABLE_SLOT, bool(options["available"])),
            SlotSet(REASON_SLOT, options["reason"]),
            SlotSet(WAIT_SLOT, options.get("estimated_wait_seconds")),
        ]


class ActionExecuteHandoff(Action):
    def name(self) -> str:
        return "action_execute_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        latest = tracker.latest_message or {}
        intent = (latest.get("intent") or {}).get("name")
        entities = {
            name: value
            for name, value in tracker.current_slot_values().items()
            if value is not None and name not in OWN_SLOTS
        }
        body = {
            "ConversationID": tracker.sender_id,
            "language_code": language(tracker),
            "user": person(tracker),
            "reason": f"Rasa intent {intent}" if intent else "asked for a human",
            "entities": entities,
            "transcript": transcript(tracker),
        }
        try:
            answer = await call_handoff("/handoff", body)
        except HandoffError as exc:
            log.warning("execute_handoff failed: %s", exc)
            dispatcher.utter_message(text="Sorry, I couldn't reach a person. Please try again.")
            return []
        utter(dispatcher, answer.get("messages", []))
        # The channel connects its widget to the live agent with these.
        dispatcher.utter_message(
            json_message={
                "handoff": {
                    "ConversationID": answer["ConversationID"],
                    "BotID": answer["BotID"],
                    "socket": answer["socket"],
                }
            }
        )
        return [SlotSet(CONVERSATION_SLOT, answer["ConversationID"])]
