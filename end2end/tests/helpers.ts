import { expect, type Page, type TestInfo } from "@playwright/test";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

// What several browser tests share: screen sizes, screenshots, and traffic sent with the
// official OpenAI Python client.

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };

/** The interpreter with `openai` installed: SETPOINT_TEST_PYTHON (scripts/test) or the local venv. */
function python(): string {
  const fromEnv = process.env.SETPOINT_TEST_PYTHON;
  if (fromEnv) return fromEnv;
  const fallback = path.resolve(__dirname, "..", "..", "target", "pyenv", "bin", "python");
  if (!fs.existsSync(fallback)) {
    throw new Error(
      `No Python for the OpenAI client: SETPOINT_TEST_PYTHON is unset and ${fallback} does not exist. ` +
        "Run scripts/test (it installs the client and exports SETPOINT_TEST_PYTHON) or set it by hand.",
    );
  }
  return fallback;
}

// Non-streamed and streamed chat completions through the set, a few at a time, with the
// official client. Prints one JSON line: how many of each kind succeeded and what failed.
const TRAFFIC_SCRIPT = String.raw`
import json, os, sys
from concurrent.futures import ThreadPoolExecutor
from openai import OpenAI

client = OpenAI(base_url=os.environ["SP_BASE_URL"], api_key=os.environ["SP_API_KEY"], max_retries=0, timeout=60)
model = os.environ["SP_MODEL"]
plain_n, stream_n = int(os.environ["SP_PLAIN"]), int(os.environ["SP_STREAMED"])
messages = [{"role": "user", "content": "Say hello in five words."}]

def plain(_):
    r = client.chat.completions.create(model=model, messages=messages)
    assert r.choices[0].message.content, "empty completion"
    return "plain"

def streamed(_):
    parts = []
    for chunk in client.chat.completions.create(model=model, messages=messages, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
    assert parts, "a stream without content"
    return "streamed"

def run(job):
    kind, fn = job
    try:
        return fn(0), None
    except Exception as e:  # one failed call is reported, not fatal: the simulator has an error rate
        return kind, f"{kind}: {type(e).__name__}: {e}"

jobs = [("plain", plain)] * plain_n + [("streamed", streamed)] * stream_n
with ThreadPoolExecutor(max_workers=5) as pool:
    results = list(pool.map(run, jobs))
ok = {"plain": 0, "streamed": 0}
errors = []
for kind, error in results:
    if error:
        errors.append(error)
    else:
        ok[kind] += 1
print(json.dumps({"plain": ok["plain"], "streamed": ok["streamed"], "errors": errors}))
`;

export type Traffic = { plain: number; streamed: number; errors: string[] };

/** Sends `plain` + `streamed` requests to `model` with the OpenAI Python client. */
export async function sendTraffic(baseURL: string, secret: string, model: string, plain: number, streamed: number): Promise<Traffic> {
  const interpreter = python();
  const child = spawn(interpreter, ["-c", TRAFFIC_SCRIPT], {
    env: {
      ...process.env,
      SP_BASE_URL: `${baseURL}/v1`,
      SP_API_KEY: secret,
      SP_MODEL: model,
      SP_PLAIN: String(plain),
      SP_STREAMED: String(streamed),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0) throw new Error(`the OpenAI client (${interpreter}) exited with ${code}:\n${stderr}\n${stdout}`);
  const traffic = JSON.parse(stdout.trim().split("\n").pop()!) as Traffic;
  // The simulated models fail about 1 % of calls; most must succeed, and both kinds at least once.
  expect(traffic.plain, `non-streamed requests through ${model}: ${JSON.stringify(traffic)}`).toBeGreaterThan(0);
  expect(traffic.streamed, `streamed requests through ${model}: ${JSON.stringify(traffic)}`).toBeGreaterThan(0);
  expect(traffic.errors.length, `failed requests: ${traffic.errors.join("; ")}`).toBeLessThanOrEqual(2);
  return traffic;
}

/** Full-page screenshots at 1280×900 and, with `phone`, at 390×844 too. */
export async function snap(page: Page, testInfo: TestInfo, name: string, phone = false) {
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: testInfo.outputPath(`${name}-1280.png`), fullPage: true });
  if (phone) {
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: testInfo.outputPath(`${name}-390.png`), fullPage: true });
    await page.setViewportSize(DESKTOP);
  }
}
