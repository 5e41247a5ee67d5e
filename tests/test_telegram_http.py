"""python-telegram-bot's calls on our aiohttp request backend, over real HTTP on 127.0.0.1: what
the Bot API receives, and which of PTB's errors a caller sees when the network fails it."""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TimedOut

from adapters.telegram_http import AiohttpRequest
from tests.drivers.telegram import free_port
from tests.waiting import until

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def bot_on(url: str, token: str, request: AiohttpRequest | None = None) -> Bot:
    return Bot(token, base_url=f"{url}/bot", request=request or AiohttpRequest(),
               get_updates_request=AiohttpRequest(connection_pool_size=1))


@dataclass
class Recorder:
    """A Bot API that keeps each request as it came: its type, its fields and their files."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        parts: dict[str, tuple[str | None, str | None, bytes]] = {}
        if request.content_type.startswith("multipart/"):
            async for part in await request.multipart():
                content = await part.read()  # type: ignore[union-attr]
                parts[part.name or ""] = (part.filename, part.headers.get("Content-Type"), content)
        self.requests.append({"method": request.match_info["method"], "type": request.content_type,
                              "parts": parts, "transport": request.transport})
        if request.match_info["method"] == "getMe":
            return web.json_response({"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "S"}})
        message = {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}}
        return web.json_response({"ok": True, "result": message})


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    recording = Recorder()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", recording.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    recording.url = f"http://127.0.0.1:{port}"
    yield recording
    await runner.cleanup()


async def test_a_call_and_its_answer_go_through_with_every_field(fake):
    async with bot_on(fake.url, fake.token) as bot:
        me = await bot.get_me()
        message = await bot.send_message(42, "Hello <b>there</b>", parse_mode="HTML",
                                         reply_markup={"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]})
    assert me.username == fake.username
    method, params = fake.calls[-1]
    assert method == "sendMessage"
    assert params["chat_id"] == 42 and params["text"] == "Hello <b>there</b>" and params["parse_mode"] == "HTML"
    assert params["reply_markup"] == {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    assert fake.last(42).text == "Hello <b>there</b>" and message.message_id == fake.last(42).message_id


async def test_a_photo_is_uploaded_as_multipart_with_its_name_type_and_caption(recorder):
    async with bot_on(recorder.url, "1:token") as bot:
        await bot.send_photo(5, PNG, caption="Your result", filename="chart.png")
    sent = recorder.requests[-1]
    assert sent["method"] == "sendPhoto" and sent["type"] == "multipart/form-data"
    assert sent["parts"]["photo"] == ("chart.png", "image/png", PNG)
    assert sent["parts"]["caption"][2] == b"Your result" and sent["parts"]["chat_id"][2] == b"5"


async def test_an_api_that_does_not_answer_in_time_is_a_timeout(fake):
    fake.hold("sendMessage")  # answers only when dropped, which the call does not wait for
    try:
        async with bot_on(fake.url, fake.token) as bot:
            with pytest.raises(TimedOut):
                await bot.send_message(42, "Hello", read_timeout=0.05)
    finally:
        fake.drop("sendMessage")  # so that the server can stop


async def test_a_refused_connection_is_a_network_error():
    async with AiohttpRequest() as request:
        with pytest.raises(NetworkError) as raised:
            await request.post(f"http://127.0.0.1:{free_port()}/bot1:token/getMe")
    assert not isinstance(raised.value, TimedOut)
    assert "aiohttp.ClientConnectorError" in str(raised.value)


async def test_flood_control_still_reaches_the_caller_as_retry_after(fake):
    fake.fail_next["sendMessage"].append(7)
    async with bot_on(fake.url, fake.token) as bot:
        with pytest.raises(RetryAfter) as raised:
            await bot.send_message(42, "Hello")
        await bot.send_message(42, "Hello again")
    assert "Retry in 7 seconds" in str(raised.value)
    assert [s.text for s in fake.to(42)] == ["Hello again"]


async def test_shutdown_closes_the_connections_and_initialize_opens_them_again(recorder):
    request = AiohttpRequest()
    bot = bot_on(recorder.url, "1:token", request)
    async with bot:
        await bot.send_message(5, "Hello")
    connection = recorder.requests[-1]["transport"]
    await until(connection.is_closing, "the server to see the connection closed")
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(f"{recorder.url}/bot1:token/sendMessage")
    async with bot:
        await bot.send_message(5, "Hello again")
    assert recorder.requests[-1]["transport"] is not connection


async def test_a_request_never_initialized_is_refused_plainly():
    request = AiohttpRequest()
    await request.shutdown()  # shutting down what never started is no error
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post("http://127.0.0.1:1/bot1:token/getMe")
