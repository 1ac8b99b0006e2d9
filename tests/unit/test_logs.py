"""wingman/logs.py: JSON lines with the bound call and block ids, text-bearing fields reduced to
their length, exceptions without their message."""

from __future__ import annotations

import asyncio
import io
import json
import logging

from wingman import logs


def capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter(node_id="node-1", role="gateway"))
    logger = logging.getLogger("wingman.test_logs")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_ids_bound_in_a_task_reach_every_line_of_it_and_only_of_it() -> None:
    log, out = capture()

    async def call() -> None:
        logs.bind(call_id="call-1")
        log.info("call started")
        logs.bind(block_id="block-7")
        log.info("block aggregated", extra={"chars": 12})

    await asyncio.get_running_loop().create_task(call())
    log.info("outside")
    first, second, outside = lines(out)
    assert first["call_id"] == "call-1" and "block_id" not in first
    assert second == {**second, "call_id": "call-1", "block_id": "block-7", "chars": 12,
                      "message": "block aggregated", "level": "INFO", "node": "node-1", "role": "gateway"}
    assert "call_id" not in outside


def test_text_fields_are_replaced_by_their_length_and_exceptions_lose_their_message() -> None:
    log, out = capture()
    log.info("insight made", extra={"text": "your price seems high", "content": "Anchor on value",
                                    "kind": "objection.price"})
    try:
        raise ValueError("prompt was: tell me about the customer's budget")
    except ValueError:
        log.exception("agent failed")
    made, failed = lines(out)
    assert made["text_chars"] == len("your price seems high") and "text" not in made
    assert made["content_chars"] == len("Anchor on value") and made["kind"] == "objection.price"
    assert failed["error"] == "ValueError" and failed["stack"]
    assert "budget" not in out.getvalue() and "price seems" not in out.getvalue()
