"""OpenAI-shaped JSON bodies the simulated origin answers with.

The gateway meters usage from these bodies and clients parse them with the official SDKs, so
their shapes follow the OpenAI API closely: ``chat.completion``, ``chat.completion.chunk`` (with
``usage: null`` on every chunk but the usage-only one when usage was asked for), model lists,
embeddings (float or base64) and ``{"error": {...}}`` bodies. Everything here is pure and
deterministic; timing lives in the app.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Iterable
from typing import Any

WORDS: tuple[str, ...] = (
    "This", "is", "a", "simulated", "answer", "from", "the", "workshop", "origin,", "generated",
    "one", "token", "at", "a", "time", "so", "the", "gateway", "can", "be", "measured.",
)


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """The body of any error answer, like ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def estimate_tokens(text: str) -> int:
    """A rough token count: one token per four characters, at least one for non-empty text."""
    return math.ceil(len(text) / 4)


def message_text(messages: Iterable[Any]) -> str:
    """All text in chat messages, whether ``content`` is a string or a list of parts."""
    pieces: list[str] = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            pieces.append(content)
        elif isinstance(content, list):
            pieces.extend(part["text"] for part in content if _is_text_part(part))
    return "".join(pieces)


def _is_text_part(part: Any) -> bool:
    return isinstance(part, dict) and isinstance(part.get("text"), str)


def tokens(count: int) -> list[str]:
    """``count`` deterministic tokens; joined they read as text (each after the first has a space)."""
    return [("" if i == 0 else " ") + WORDS[i % len(WORDS)] for i in range(count)]


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def chat_completion(
    id_: str, created: int, model: str, content: str, finish_reason: str, usage_: dict[str, int]
) -> dict[str, Any]:
    return {
        "id": id_,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage_,
    }


class ChunkFactory:
    """Builds the ``chat.completion.chunk`` objects of one stream (shared id, created, model)."""

    def __init__(self, id_: str, created: int, model: str, include_usage: bool) -> None:
        self.id = id_
        self.created = created
        self.model = model
        self.include_usage = include_usage

    def role(self) -> dict[str, Any]:
        return self._with_choice({"role": "assistant", "content": "", "refusal": None}, None)

    def content(self, text: str) -> dict[str, Any]:
        return self._with_choice({"content": text}, None)

    def finish(self, reason: str) -> dict[str, Any]:
        return self._with_choice({}, reason)

    def usage_only(self, usage_: dict[str, int]) -> dict[str, Any]:
        return {**self._base(), "choices": [], "usage": usage_}

    def _with_choice(self, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
        chunk = {
            **self._base(),
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if self.include_usage:
            chunk["usage"] = None
        return chunk

    def _base(self) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}


def model_list(models: Iterable[str]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": name, "object": "model", "created": 0, "owned_by": "simulated-origin"} for name in models],
    }


def embedding_vector(text: str, dim: int) -> list[float]:
    """A unit vector derived from a hash of ``text``: the same text always maps to the same vector."""
    raw = b""
    block = 0
    while len(raw) < 2 * dim:
        raw += hashlib.sha256(f"{block}:{text}".encode()).digest()
        block += 1
    values = [int.from_bytes(raw[2 * i : 2 * i + 2], "big") / 32767.5 - 1.0 for i in range(dim)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


def embeddings(inputs: list[str], model: str, dim: int, encoding_format: str) -> dict[str, Any]:
    """The ``/v1/embeddings`` body; ``encoding_format="base64"`` packs little-endian float32."""
    data = []
    for index, text in enumerate(inputs):
        vector = embedding_vector(text, dim)
        encoded: list[float] | str = vector
        if encoding_format == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    prompt_tokens = sum(estimate_tokens(text) for text in inputs)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
