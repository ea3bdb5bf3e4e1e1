"""The demo bot's custom action: an order's status, as the seeds' code node returns it.

Runs in the custom-action sandbox (``def main(event, context)``): reads the
order id from the seeds' entity shape and answers with the output variables
the flow uses (``status``, ``found``, ...) and a button HSL (``message``), the
way the seeds' ``write_here`` returns it: a list of JSON strings.
"""

import json

# A real bot would call its shop's API here (requests is importable); the demo
# keeps a few orders in code so it works offline.
ORDERS = {
    "abc123": {"status": "shipped", "eta": "Thursday"},
    "xyz789": {"status": "being packed", "eta": "next week"},
    "qrs456": {"status": "delivered", "eta": None},
}


def main(event, context):
    body = json.loads(event["body"])
    entities = body.get("entities") or {}
    conversation_details = body.get("conversation_details") or {}
    found = entities.get("order_id") or [{}]
    order_id = (found[0].get("entity_value") or {}).get("value", "")
    order = ORDERS.get(order_id)
    conversation_details["last_order_id"] = order_id
    if order is None:
        final_response = {
            "status": "unknown",
            "found": False,
            "order_id": order_id,
            "conversation_details": conversation_details,
        }
    else:
        print("order", order_id, "is", order["status"])
        final_response = {
            "status": order["status"],
            "found": True,
            "order_id": order_id,
            "eta": order["eta"] or "",
            "message": write_here(order_id, order),
            "conversation_details": conversation_details,
        }
    return {
        "statusCode": 200,
        "body": json.dumps(final_response),
        "headers": {"Content-Type": "application/json"},
    }


def write_here(order_id, order):
    """The seeds' button HSL, with this order in it."""
    button_hsl = {
        "text": "Order %s: %s" % (order_id.upper(), order["status"]),
        "type": "BUTTON",
        "data": {
            "items": [
                {
                    "actionable_text": "Track parcel",
                    "location_required": False,
                    "is_default": 0,
                    "uri": "LINK",
                    "type": "APP_ACTION",
                    "payload": {"url": "https://example.com/track/" + order_id, "gogo_message": ""},
                },
                {
                    "actionable_text": "Talk to an agent",
                    "location_required": False,
                    "is_default": 0,
                    "uri": "LAUNCH_CHANNEL",
                    "type": "TEXT_ONLY",
                    "payload": {"gogo_message": "", "message": "agent"},
                },
            ]
        },
        "isNew": False,
    }
    return [json.dumps(button_hsl)]
