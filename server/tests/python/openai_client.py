"""Drives a running Setpoint with the official `openai` Python client.

Run by server/tests/openai_client.rs with SETPOINT_BASE_URL, SETPOINT_API_KEY and
SETPOINT_MODEL (an @owner/slug the key may use). Exits non-zero on the first failed check.
"""

import os

import openai

base = os.environ["SETPOINT_BASE_URL"] + "/v1"
key = os.environ["SETPOINT_API_KEY"]
model = os.environ["SETPOINT_MODEL"]
client = openai.OpenAI(base_url=base, api_key=key, max_retries=0)
messages = [{"role": "user", "content": "Say hello in a few words."}]

# Not streaming: a typed answer, usage, and Setpoint's headers.
raw = client.chat.completions.with_raw_response.create(model=model, messages=messages)
answer = raw.parse()
assert answer.choices[0].message.content, answer
assert answer.usage and answer.usage.completion_tokens > 0, answer.usage
assert raw.headers.get("x-setpoint-model"), dict(raw.headers)
assert raw.headers.get("x-setpoint-request-id", "").startswith("req_"), dict(raw.headers)
print("whole:", raw.headers["x-setpoint-model"], answer.usage.completion_tokens, "tokens")

# Streaming, with the usage chunk.
stream = client.chat.completions.create(
    model=model, messages=messages, stream=True, stream_options={"include_usage": True}
)
text, usage, chunks = "", None, 0
for chunk in stream:
    chunks += 1
    if chunk.choices:
        text += chunk.choices[0].delta.content or ""
    if chunk.usage:
        usage = chunk.usage
assert text and chunks > 2, (text, chunks)
assert usage and usage.completion_tokens > 0, usage
print("stream:", chunks, "chunks", usage.completion_tokens, "tokens")

# Streaming without usage: no usage chunk arrives.
stream = client.chat.completions.create(model=model, messages=messages, stream=True)
assert all(chunk.usage is None for chunk in stream)

# The model list names the set.
ids = [m.id for m in client.models.list()]
assert model in ids, ids

# Errors arrive as the client's usual exceptions.
try:
    client.chat.completions.create(model="@nobody/nothing", messages=messages)
    raise AssertionError("unknown model accepted")
except openai.NotFoundError as e:
    assert e.code == "model_not_found", e
try:
    client.chat.completions.create(model=model, messages=[])
    raise AssertionError("empty messages accepted")
except openai.BadRequestError as e:
    assert e.param == "messages", e
try:
    openai.OpenAI(base_url=base, api_key="sk-sp-wrong", max_retries=0).models.list()
    raise AssertionError("bad key accepted")
except openai.AuthenticationError as e:
    assert e.code == "invalid_api_key", e
print("ok")
