"""The seeds' code samples, read from the seed files, run in the sandbox as written."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

from handoff.runner import RunnerPool, validate_code

from .conftest import SEEDS, OrderApi, action

SEED_000 = SEEDS / "000_3fae165fc6c9e0d3.txt"
SEED_001 = SEEDS / "001_0d30942cd2f87e40.txt"

SAMPLE_INPUT = {  # the seeds' "Sample Input Data": entities and user_data
    "entities": {"order_id_demotrain": [{"entity_value": {"value": "abc123"}}]},
    "user_data": {
        "user_id": 7,
        "user_name": "ada",
        "full_name": "Ada Lovelace",
        "device_platform": "web",
        "language_code": "en",
    },
}


def block(seed: Path, *containing: str) -> str:
    """The seed's one ```python block that contains every string given, unchanged."""
    blocks = re.findall(r"```python\n(.*?)```", seed.read_text(), flags=re.S)
    matches = [b for b in blocks if all(c in b for c in containing)]
    assert len(matches) == 1, f"{seed.name}: {len(matches)} python blocks contain {containing!r}"
    return matches[0]


async def test_default_template_runs(pool: RunnerPool) -> None:
    code = block(SEED_001, "def main(event, context):", "'user_full_name'")
    assert validate_code(code) == []
    result = await pool.run("bot-seed", "template", code, SAMPLE_INPUT)
    assert result.ok, result.error
    assert result.status_code == 200
    assert result.headers == {"Content-Type": "application/json"}
    assert result.output == {
        "status": True,
        "entities": SAMPLE_INPUT["entities"],
        "user_full_name": "Ada Lovelace",
        "user_device_platform": "web",
        "conversation_details": {},
    }
    assert result.conversation_details == {}


async def test_button_hsl_runs(pool: RunnerPool) -> None:
    code = block(SEED_000, "def write_here(*args):")
    assert validate_code(code) == []
    result = await pool.run("bot-seed", "button", code, SAMPLE_INPUT)
    assert result.ok, result.error
    assert result.output is not None
    (hsl,) = result.output["response"]
    button = json.loads(hsl)
    assert button["type"] == "BUTTON"
    assert [i["actionable_text"] for i in button["data"]["items"]] == ["View Price", "View Details"]
    assert result.user_details == {"language_code": "en", "name": "Guest User"}
    assert result.conversation_details == {}


async def test_user_details_and_conversation_data_updates(pool: RunnerPool) -> None:
    template = block(SEED_000, "def write_here(*args):")
    update = block(SEED_000, "user_details['language_code'] = 'mr'")
    # The seed says: alter the dicts read from the body, then return them.
    anchor = "    final_response = {'status': True, 'response': write_here()"
    code = template.replace(anchor, textwrap.indent(update.strip(), "    ") + "\n" + anchor)
    assert code != template
    result = await pool.run(
        "bot-seed",
        "state",
        code,
        {
            **SAMPLE_INPUT,
            "user_details": {"language_code": "en", "email": "a@b.c"},
            "conversation_details": {"step": "start"},
        },
    )
    assert result.ok, result.error
    assert result.user_details == {"language_code": "mr", "email": "a@b.c"}
    assert result.conversation_details == {"step": "start", "policy_id": 12345}


async def test_logging_sample_logs(pool: RunnerPool) -> None:
    code = block(SEED_001, "logger = logging.getLogger()")
    result = await pool.run("bot-seed", "logging", code, SAMPLE_INPUT)
    assert result.ok, result.error
    assert result.output == {"status": True}
    assert "[INFO] {'status': True}" in result.logs


# What the seed's order-details snippet uses but leaves to the bot builder.
ORDER_PRELUDE = """
import json
import requests


class Entities:
    def __init__(self, entities):
        self.entities = entities or {}

    def get(self, name, default=None):
        values = self.entities.get(name) or []
        return values[0]['entity_value']['value'] if values else default


def generate_response(error):
    body = json.dumps({'status': False, 'error': error})
    return {'Statuscode': 500, 'statusCode': 200, 'body': body, 'headers': {}}


def get_order_message(order_details):
    return {'type': 'TEXT', 'text': 'Order %(order_id)s is %(status)s' % order_details}
"""


async def test_api_call_with_requests(api_pool: RunnerPool, order_api: OrderApi) -> None:
    snippet = block(SEED_001, "def get_order_details(env_variables, order_id):")
    assert '"<API_ENDPOINT>"' in snippet
    code = ORDER_PRELUDE + snippet.replace("<API_ENDPOINT>", order_api.url)
    assert validate_code(code) == []
    data = {
        "entities": {"capture_track_orderid_copy": [{"entity_value": {"value": "abc123"}}]},
        "user_data": SAMPLE_INPUT["user_data"],
    }
    result = await api_pool.run("bot-seed", "orders", code, data, env={"API_KEY": "k-123"})
    assert result.ok, result.error
    assert order_api.received == [{"order_id": "ABC123"}]
    assert result.output == {
        "status": True,
        "message": {"type": "TEXT", "text": "Order ABC123 is shipped"},
    }


async def test_api_failure_is_handled_by_the_seed_code(pool: RunnerPool) -> None:
    # The seed's own except-branch: a refused call prints and returns its error response.
    snippet = block(SEED_001, "def get_order_details(env_variables, order_id):")
    code = ORDER_PRELUDE + snippet.replace("<API_ENDPOINT>", "http://127.0.0.1:6379/orders")
    result = await pool.run("bot-seed", "orders", code, {"entities": {}})
    assert result.ok, result.error
    assert result.output == {"status": False, "error": "Api Failure"}
    assert "Oops: Something Else" in result.logs and "blocked" in result.logs


async def test_env_variables_reach_body_and_environment(pool: RunnerPool) -> None:
    code = action("""
        body = json.loads(event['body'])
        r = (body['env_variables'], os.environ.get('MONGO_URI'), sorted(body))
    """)
    env = {"MONGO_URI": "mongodb://mongodb0.example.com:27017/admin"}
    result = await pool.run("bot-env", "env", code, SAMPLE_INPUT, env=env)
    assert result.ok, result.error
    assert result.output == {
        "r": repr(
            (
                env,
                env["MONGO_URI"],
                sorted(
                    [
                        "node",
                        "event",
                        "user",
                        "entities",
                        "user_details",
                        "conversation_details",
                        "conversation_data",
                        "env_variables",
                    ]
                ),
            )
        )
    }


async def test_seed_extra_packages_import(pool: RunnerPool) -> None:
    names = [
        "chardet",
        "gspread",
        "httplib2",
        "idna",
        "oauth2client",
        "pyasn1",
        "pyasn1_modules",
        "pytz",
        "redis",
        "requests",
        "rsa",
        "six",
        "unicodecsv",
        "urllib3",
    ]
    code = action(
        "r = [m.__name__ for m in mods]",
        imports="import json\n"
        + "\n".join(f"import {n}" for n in names)
        + f"\nmods = [{', '.join(names)}]",
    )
    assert validate_code(code) == []
    result = await pool.run("bot-pkgs", "imports", code, {}, timeout_s=20)
    assert result.ok, result.error
    assert result.output == {"r": repr(names)}


async def test_context_is_lambda_like(pool: RunnerPool) -> None:
    code = action(
        "r = (context.aws_request_id, context.function_name, "
        "0 < context.get_remaining_time_in_millis() <= 5000)"
    )
    result = await pool.run("bot-ctx", "ctx-action", code, {}, timeout_s=5)
    assert result.ok, result.error
    assert result.output == {"r": repr((result.request_id, "ctx-action", True))}
