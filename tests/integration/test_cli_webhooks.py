"""``handoff create-bot`` and ``handoff update-bot`` with webhook settings, as a real process."""

import json
from pathlib import Path

from tests.integration.test_cli import run


def test_webhook_url_and_secret_on_create_and_update(tmp_path: Path) -> None:
    made = run(
        tmp_path,
        "create-bot",
        "--name",
        "Shop",
        "--webhook-url",
        "https://bot.example.com/hooks",
        "--webhook-secret",
        "s" * 32,
    )
    assert made.returncode == 0, made.stderr
    bot = json.loads(made.stdout)
    assert bot["webhook_url"] == "https://bot.example.com/hooks"
    assert bot["webhook_secret_set"] is True and "s" * 32 not in made.stdout
    changed = run(
        tmp_path, "update-bot", "--bot", bot["bot_id"], "--webhook-url", "http://10.0.0.5/h"
    )
    assert changed.returncode == 0, changed.stderr
    assert json.loads(changed.stdout) == {
        "bot_id": bot["bot_id"],
        "name": "Shop",
        "webhook_url": "http://10.0.0.5/h",
        "webhook_secret_set": True,
    }
    cleared = run(tmp_path, "update-bot", "--bot", bot["bot_id"], "--webhook-secret", "")
    assert json.loads(cleared.stdout)["webhook_secret_set"] is False


def test_bad_webhook_options_are_refused_clearly(tmp_path: Path) -> None:
    for args, message in [
        (["create-bot", "--name", "S", "--webhook-url", "ftp://x/y"], "--webhook-url ftp://x/y"),
        (["create-bot", "--name", "S", "--webhook-secret", "short"], "--webhook-secret"),
        (["update-bot", "--bot", "bot_nope", "--webhook-url", "https://a/"], "no such bot"),
    ]:
        done = run(tmp_path, *args)
        assert done.returncode != 0, args
        assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
    bot = json.loads(run(tmp_path, "create-bot", "--name", "S").stdout)
    assert bot["webhook_url"] is None and bot["webhook_secret_set"] is False
    done = run(tmp_path, "update-bot", "--bot", bot["bot_id"], "--webhook-url", "mailto:a@b")
    assert done.returncode != 0 and "http:// or https://" in done.stderr
