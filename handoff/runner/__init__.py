"""Custom actions: bots' ``main(event, context)`` run in sandboxed, warm, per-bot workers.

The contract (``contract``), save-time checks (``validate``), the bubblewrap
sandbox (``sandbox``, ``seccomp``, ``egress``) and the pool (``pool``). The
server wires ``RunnerPool`` into its cleanup context and REST handlers; the
runner imports nothing from the rest of the server.
"""

from .config import DEFAULT_BLOCKED, RunnerConfig
from .contract import ContractError, LambdaContext, ParsedResponse, build_event, parse_response
from .models import (
    ActionError,
    CodeProblem,
    DetailLimits,
    ErrorKind,
    EventInput,
    InvocationRequest,
    InvocationResult,
    code_version,
)
from .netpolicy import NetworkPolicy
from .pool import PoolStats, RunnerPool
from .validate import module_available, validate_code

__all__ = [
    "DEFAULT_BLOCKED",
    "ActionError",
    "CodeProblem",
    "ContractError",
    "DetailLimits",
    "ErrorKind",
    "EventInput",
    "InvocationRequest",
    "InvocationResult",
    "LambdaContext",
    "NetworkPolicy",
    "ParsedResponse",
    "PoolStats",
    "RunnerConfig",
    "RunnerPool",
    "build_event",
    "code_version",
    "module_available",
    "parse_response",
    "validate_code",
]
