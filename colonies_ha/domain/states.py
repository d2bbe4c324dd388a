"""Numeric states exactly as they appear on the wire."""

from __future__ import annotations

from enum import IntEnum


class ProcessState(IntEnum):
    WAITING = 0
    RUNNING = 1
    SUCCESSFUL = 2
    FAILED = 3


class ExecutorState(IntEnum):
    PENDING = 0
    APPROVED = 1
    REJECTED = 2


class AttributeType(IntEnum):
    IN = 0
    OUT = 1
    ERR = 2
    ENV = 3


MAX_EXEC_TIME_EXCEEDED = "Maximum execution time limit exceeded"
MAX_WAIT_TIME_EXCEEDED = "Maximum waiting time limit exceeded"
