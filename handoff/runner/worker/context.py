"""The ``context`` argument of ``main(event, context)``."""

from __future__ import annotations

import time


class LambdaContext:
    """The part of AWS Lambda's context object that code nodes use.

    Code written for Lambda reads ``context.aws_request_id`` and calls
    ``context.get_remaining_time_in_millis()`` to stop before the limit.
    """

    def __init__(
        self,
        *,
        request_id: str,
        function_name: str,
        function_version: str,
        memory_limit_in_mb: int,
        bot_id: str,
        deadline: float,
    ) -> None:
        self.aws_request_id = request_id
        self.function_name = function_name
        self.function_version = function_version
        self.memory_limit_in_mb = memory_limit_in_mb
        self.bot_id = bot_id
        self.log_group_name = f"/handoff/bots/{bot_id}/actions/{function_name}"
        self.log_stream_name = request_id
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the call's time limit."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        return (
            f"LambdaContext(aws_request_id={self.aws_request_id!r}, "
            f"function_name={self.function_name!r})"
        )
