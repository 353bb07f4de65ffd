"""How the server's log lines look: uvicorn's plain text, or one JSON object per line.

JSON lines carry `time`, `level`, `logger` and `message`, the fields a line was given (a
request's `request_id`, `method`, `path`, `status`, `duration_ms`, `client`; a socket's
`socket_id`, `user_id`, `company_id`, `duration_ms`, `frames_in`, `frames_out`, `close_code`,
`closed_by`, `close_reason`), and `exception` with its traceback when there is one: a log
collector indexes them without parsing prose.
"""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
import uvicorn.config

# What every LogRecord has; anything else on a record was passed as `extra`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

LogFormat = Literal["text", "json"]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def log_config(log_format: LogFormat) -> dict[str, Any]:
    """A logging.config.dictConfig for uvicorn's `log_config`. Text: uvicorn's own, with
    Hallway's loggers printed as uvicorn's are. JSON: Hallway's and uvicorn's loggers as one
    JSON object per line on stderr. Levels are uvicorn's `log_level`'s."""
    if log_format == "text":
        config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
        config["loggers"]["hallway"] = {"handlers": ["default"], "propagate": False}
        return config
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            name: {"handlers": ["stderr"], "propagate": False} for name in ("hallway", "uvicorn")
        },
    }
