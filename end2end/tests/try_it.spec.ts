import {
  expect,
  test,
  type APIRequestContext,
  type Browser,
  type BrowserContext,
  type Page,
  type TestInfo,
} from "@playwright/test";
import { DESKTOP, PHONE, snap } from "./helpers";

// "Try it" on the owner's set page: the owner signs up, creates a set through the JSON API,
// opens the set page, types a message and sends it; the answer streams in (seen growing
// before the summary arrives), then the "served by … · … ms · $…" line; the conversation
// goes on; the messages are counted in the set's monitoring. A session that ended shows a
// readable error and keeps the typed message; Enter alone makes a new line; a visitor sees no
// chat box; without JavaScript the section says the chat needs it.
//
// Screenshots (1280×900 and 390×844) land in test-results/ via the helpers' snap.

// Models that take a second or two to answer, so the answer is seen while it streams.
const MODELS = ["openai/gpt-4o-mini", "mistral/mistral-small"];
const SERVED = /^served by (openai\/gpt-4o-mini|mistral\/mistral-small) · [\d.,]+ (ms|s) · \$[\d.,]+$/;

test.use({ viewport: DESKTOP });

async function signUp(request: APIRequestContext, username: string) {
  const res = await request.post("/api/sign_up", {
    form: { username, password: "try it password" },
    headers: { accept: "application/json" },
  });
  expect(res.status(), await res.text()).toBe(200);
}

/** The set's stored request count over the last hour (what its charts show). */
async function storedRequests(request: APIRequestContext, owner: string, slug: string): Promise<number> {
  const res = await request.post("/api/set_series", { form: { owner, slug, range: "1h", lines: "models" } });
  expect(res.status(), await res.text()).toBe(200);
  return (await res.json()).set.total.requests;
}

/**
 * Records, in the page, every state the newest answer passes through (its text's length and
 * whether the served-by line is there yet), so a test can tell an answer that streamed in
 * from one that appeared whole.
 */
async function watchAnswers(page: Page) {
  await page.evaluate(() => {
    const log = document.querySelector('[data-testid="try-log"]')!;
    const states: { length: number; served: boolean }[] = [];
    (window as any).__tryStates = states;
    new MutationObserver(() => {
      const answers = log.querySelectorAll('[data-testid="try-answer"]');
      const last = answers[answers.length - 1];
      if (!last) return;
      const text = last.querySelector('[data-testid="try-answer-text"]')?.textContent ?? "";
      states.push({ length: text.length, served: !!last.querySelector('[data-testid="try-served"]') });
    }).observe(log, { subtree: true, childList: true, characterData: true });
  });
}

async function answerStates(page: Page): Promise<{ length: number; served: boolean }[]> {
  return page.evaluate(() => (window as any).__tryStates);
}

/**
 * The page at both sizes (the helpers' full-page snap) and the chat box alone at both sizes,
 * where its details can be read.
 */
async function snapTry(page: Page, testInfo: TestInfo, name: string) {
  await snap(page, testInfo, name, true);
  for (const [size, viewport] of [["1280", DESKTOP], ["390", PHONE]] as const) {
    await page.setViewportSize(viewport);
    await page.getByTestId("try-it").screenshot({ path: testInfo.outputPath(`${name}-box-${size}.png`) });
  }
  await page.setViewportSize(DESKTOP);
}

/** Send is enabled once the WASM bundle has hydrated the page. */
async function waitForHydration(page: Page) {
  await expect(page.getByTestId("try-send")).toBeEnabled({ timeout: 20_000 });
}

test.describe("Try it", () => {
  const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
  const owner = `try${run}`;
  const visitor = `vis${run}`;
  let slug = "";
  let address = "";
  let baseURL = "";

  test.beforeAll(async ({ playwright }, testInfo) => {
    baseURL = testInfo.project.use.baseURL!;
    const request = await playwright.request.newContext({ baseURL });
    await signUp(request, owner);
    // On the session: the JSON API takes it as it takes a key.
    const created = await request.post("/api/v1/model-sets", {
      data: {
        name: `Try It ${run}`,
        description: "End-to-end test set for the chat box.",
        categories: ["chat"],
        models: MODELS,
        requirements: [{ dimension: { kind: "latency" }, statistic: "p90", comparator: "<=", target: 8000 }],
      },
    });
    expect(created.status(), await created.text()).toBe(201);
    slug = (await created.json()).slug;
    address = `@${owner}/${slug}`;
    await request.dispose();
  });

  /** A browser signed in as the owner, on a session of its own (one test logs out of its). */
  async function ownerContext(browser: Browser, javaScriptEnabled = true): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: DESKTOP, baseURL, javaScriptEnabled });
    const res = await context.request.post("/api/log_in", {
      form: { username: owner, password: "try it password" },
      headers: { accept: "application/json" },
    });
    expect(res.status(), await res.text()).toBe(200);
    return context;
  }

  test("the owner sends a message, sees it stream in and what served it, and goes on", async ({ browser }, testInfo) => {
    const context = await ownerContext(browser);
    const page = await context.newPage();
    await page.goto(`/model-sets/${address}`);
    const section = page.getByTestId("try-it");
    await expect(section.getByRole("heading", { name: "Try it" })).toBeVisible();
    await expect(page.getByTestId("try-log")).toHaveAttribute("aria-live", "polite");
    await expect(section).toContainText("No messages yet");
    await waitForHydration(page);
    await expect(page.getByTestId("try-nojs"), "the note on JavaScript goes once the page runs").toHaveCount(0);
    await section.scrollIntoViewIfNeeded();
    await snapTry(page, testInfo, "30-try-empty");

    // Ctrl+Enter sends; the answer streams in before its summary arrives.
    const box = page.getByLabel("Message");
    await box.fill("Which model are you? Answer in one sentence.");
    await watchAnswers(page);
    await box.press("Control+Enter");
    await expect(page.getByTestId("try-stop")).toBeVisible();
    const answer = page.getByTestId("try-answer").last();
    await expect(answer.getByTestId("try-answer-text")).not.toBeEmpty();
    await page.getByTestId("try-it").screenshot({ path: testInfo.outputPath("31-try-streaming-box-1280.png") });
    await expect(answer.getByTestId("try-served")).toHaveText(SERVED, { timeout: 30_000 });
    const states = await answerStates(page);
    const streamedLengths = new Set(states.filter((s) => !s.served && s.length > 0).map((s) => s.length));
    expect(streamedLengths.size, `the answer grew in pieces before the summary: ${JSON.stringify(states)}`).toBeGreaterThanOrEqual(3);
    const firstAnswer = (await answer.getByTestId("try-answer-text").textContent()) ?? "";
    expect(firstAnswer.split(" ").length).toBeGreaterThan(10);
    await expect(box, "the box is emptied once the message is on its way").toHaveValue("");
    await expect(page.getByTestId("try-send")).toBeVisible();
    await expect(page.getByTestId("try-error")).toBeEmpty();
    await snapTry(page, testInfo, "31-try-answered");

    // A second message with the mouse: the conversation shows both exchanges.
    await box.fill("And in three words?");
    await page.getByTestId("try-send").click();
    await expect(page.getByTestId("try-answer")).toHaveCount(2);
    await expect(page.getByTestId("try-served")).toHaveCount(2, { timeout: 30_000 });
    await expect(page.getByTestId("try-log")).toContainText("Which model are you?");
    await expect(page.getByTestId("try-log")).toContainText("And in three words?");
    // The conversation scrolls inside its box and keeps the newest answer in view.
    await expect
      .poll(() => page.getByTestId("try-log").evaluate((log) => log.scrollHeight - log.scrollTop - log.clientHeight))
      .toBeLessThan(4);
    await snapTry(page, testInfo, "32-try-conversation");
    await page.emulateMedia({ colorScheme: "dark" });
    await page.getByTestId("try-it").screenshot({ path: testInfo.outputPath("32-try-conversation-dark-box-1280.png") });
    await page.emulateMedia({ colorScheme: "light" });

    // Counted like any gateway request: both reach the set's monitoring.
    await expect
      .poll(() => storedRequests(page.request, owner, slug), { timeout: 30_000, message: "the tries were not counted" })
      .toBeGreaterThanOrEqual(2);

    // "New conversation" clears the log.
    await page.getByTestId("try-clear").click();
    await expect(page.getByTestId("try-answer")).toHaveCount(0);
    await context.close();
  });

  test("Enter alone makes a new line, and an ended session keeps the typed message with a readable error", async ({ browser }, testInfo) => {
    const context = await ownerContext(browser);
    const page = await context.newPage();
    await page.goto(`/model-sets/${address}`);
    await waitForHydration(page);
    const box = page.getByLabel("Message");
    await box.fill("first line");
    await box.press("Enter");
    await box.pressSequentially("second line");
    await expect(box).toHaveValue("first line\nsecond line");
    await expect(page.getByTestId("try-answer")).toHaveCount(0);
    await expect(page.getByTestId("try-it")).toContainText("Ctrl+Enter");

    // The session ends (logged out in another tab); the next message is refused.
    const out = await page.request.post("/api/log_out", { headers: { accept: "application/json" } });
    expect(out.status()).toBe(200);
    await page.getByTestId("try-send").click();
    await expect(page.getByTestId("try-error")).toContainText("no longer logged in");
    await expect(box, "the typed message is not lost").toHaveValue("first line\nsecond line");
    await expect(page.getByTestId("try-answer"), "a refused message is not in the conversation").toHaveCount(0);
    await page.getByTestId("try-it").scrollIntoViewIfNeeded();
    await snapTry(page, testInfo, "33-try-error");

    // Logging in again comes back to the set with the message still in the box.
    await page.getByTestId("try-log-in").click();
    await expect(page).toHaveURL(/\/login\?next=/);
    await page.getByLabel("Username").fill(owner);
    await page.getByLabel("Password").fill("try it password");
    await page.getByRole("button", { name: "Log in", exact: true }).click();
    await expect(page).toHaveURL(new RegExp(`/model-sets/${address}$`));
    await waitForHydration(page);
    await expect(page.getByLabel("Message")).toHaveValue("first line\nsecond line");
    await page.getByTestId("try-send").click();
    await expect(page.getByTestId("try-served")).toHaveText(SERVED, { timeout: 30_000 });
    await expect(page.getByLabel("Message")).toHaveValue("");
    await context.close();
  });

  test("Stop cuts an answer short and keeps what came", async ({ browser }, testInfo) => {
    const context = await ownerContext(browser);
    const page = await context.newPage();
    await page.goto(`/model-sets/${address}`);
    await waitForHydration(page);
    await page.getByLabel("Message").fill("Tell me a long story.");
    await page.getByTestId("try-send").click();
    const text = page.getByTestId("try-answer-text");
    await expect(text).not.toBeEmpty();
    await page.getByTestId("try-stop").click();
    await expect(page.getByTestId("try-cut")).toContainText("Stopped");
    await expect(page.getByTestId("try-served"), "a stopped answer has no summary").toHaveCount(0);
    await expect(page.getByTestId("try-send")).toBeEnabled();
    expect(((await text.textContent()) ?? "").length).toBeGreaterThan(0);
    await page.getByTestId("try-it").screenshot({ path: testInfo.outputPath("35-try-stopped-box-1280.png") });
    await context.close();
  });

  test("on a phone the conversation scrolls in its box and keeps the newest answer in view", async ({ browser }, testInfo) => {
    const context = await ownerContext(browser);
    const page = await context.newPage();
    await page.setViewportSize(PHONE);
    await page.goto(`/model-sets/${address}`);
    await waitForHydration(page);
    for (const [i, question] of ["Hello there.", "Tell me more, at length."].entries()) {
      await page.getByLabel("Message").fill(question);
      await page.getByTestId("try-send").click();
      await expect(page.getByTestId("try-served")).toHaveCount(i + 1, { timeout: 30_000 });
    }
    const log = page.getByTestId("try-log");
    await expect.poll(() => log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight)).toBeLessThan(4);
    await page.getByTestId("try-it").scrollIntoViewIfNeeded();
    await page.getByTestId("try-it").screenshot({ path: testInfo.outputPath("36-try-phone-box-390.png") });
    await page.screenshot({ path: testInfo.outputPath("36-try-phone-390.png") });
    await context.close();
  });

  test("a visitor sees no chat box; without JavaScript the owner is told it needs it", async ({ browser }, testInfo) => {
    const visitorContext = await browser.newContext({ viewport: DESKTOP, baseURL });
    await signUp(visitorContext.request, visitor);
    const visitorPage = await visitorContext.newPage();
    await visitorPage.goto(`/model-sets/${address}`);
    await expect(visitorPage.getByTestId("set-name")).toBeVisible();
    await expect(visitorPage.getByTestId("try-it")).toHaveCount(0);
    const refused = await visitorContext.request.post(`/api/try/${address}`, {
      data: { messages: [{ role: "user", content: "hi" }] },
    });
    expect(refused.status(), "someone else's set cannot be tried").toBe(403);
    await visitorContext.close();

    const context = await ownerContext(browser, false);
    const page = await context.newPage();
    await page.goto(`/model-sets/${address}`);
    const section = page.getByTestId("try-it");
    await expect(page.getByTestId("try-nojs")).toContainText("The chat needs JavaScript");
    await expect(page.getByTestId("try-send")).toBeDisabled();
    await section.scrollIntoViewIfNeeded();
    await snapTry(page, testInfo, "34-try-nojs");
    await context.close();
  });
});
