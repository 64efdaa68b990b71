import { expect, test, type APIRequestContext } from "@playwright/test";
import { sendTraffic, snap } from "./helpers";

// The write side end to end, as a newcomer does it: a visitor finds a set in the registry,
// presses Clone, is sent to sign up and comes back to the editor; tightens a latency
// requirement until the verdict (computed in the browser by the engine in WASM) turns from
// Yes to No, reads why, applies the suggested target so it reads Yes again, and deploys;
// calls the new set with the OpenAI Python client; edits it and sees the revision; the source
// set's owner sees no edit or delete on it and gets 403 through the API; the owner deletes it
// and the slug answers 404. Screenshots of every step land in test-results/.

const MODELS = ["openai/gpt-4o-mini", "groq/llama-3.1-8b-instant"];

/** Deep equality, numbers within 1e-9 (relative above 1): the browser's and the server's engine. */
function expectSameNumbers(browser: unknown, server: unknown, path: string) {
  if (typeof browser === "number" && typeof server === "number") {
    expect(Math.abs(browser - server), `${path}: ${browser} vs ${server}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(server)));
  } else if (Array.isArray(browser) && Array.isArray(server)) {
    expect(browser.length, `${path} length`).toBe(server.length);
    browser.forEach((b, i) => expectSameNumbers(b, server[i], `${path}[${i}]`));
  } else if (browser && server && typeof browser === "object" && typeof server === "object") {
    expect(Object.keys(browser).sort(), `${path} keys`).toEqual(Object.keys(server).sort());
    for (const k of Object.keys(browser)) expectSameNumbers((browser as any)[k], (server as any)[k], `${path}.${k}`);
  } else {
    expect(browser, path).toEqual(server);
  }
}

test.describe("the editor", () => {
  const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
  const owner = `src${run}`;
  const visitor = `new${run}`;
  const name = `Editor Source ${run}`;
  let sourceAddress = "";
  let ownerSecret = "";
  let baseURL = "";

  async function signUp(request: APIRequestContext, username: string): Promise<string> {
    const res = await request.post("/api/sign_up", {
      form: { username, password: "editor test password" },
      headers: { accept: "application/json" },
    });
    expect(res.status(), await res.text()).toBe(200);
    const key = await request.post("/api/create_api_key", {
      form: { name: "editor" },
      headers: { accept: "application/json" },
    });
    expect(key.status()).toBe(200);
    return (await key.json()).secret;
  }

  test.beforeAll(async ({ playwright }, testInfo) => {
    test.setTimeout(120_000);
    baseURL = testInfo.project.use.baseURL!;
    const request = await playwright.request.newContext({ baseURL });
    ownerSecret = await signUp(request, owner);
    const created = await request.post("/api/v1/model-sets", {
      headers: { Authorization: `Bearer ${ownerSecret}` },
      data: {
        name,
        description: "The editor test's source set.",
        categories: ["chat"],
        models: MODELS,
        requirements: [
          { dimension: { kind: "latency" }, statistic: "p90", comparator: "<=", target: 6000 },
          { dimension: { kind: "cost" }, statistic: "mean", comparator: "<=", target: 0.01 },
        ],
      },
    });
    expect(created.status(), await created.text()).toBe(201);
    sourceAddress = `@${owner}/${(await created.json()).slug}`;
    // Enough traffic that the models carrying weight have the data a "Yes" needs.
    await sendTraffic(baseURL, ownerSecret, sourceAddress, 70, 10);
    await request.dispose();
  });

  test("clone, tighten, apply the suggestion, deploy, call, edit, refuse others, delete", async ({ page, playwright }, testInfo) => {
    test.setTimeout(180_000);
    // A visitor searches and opens the set.
    await page.goto(`/model-sets?q=${encodeURIComponent(name)}`);
    await page.getByRole("link", { name }).first().click();
    await expect(page.getByTestId("set-name")).toHaveText(name);
    // Clone sends a visitor to log in, keeping where they were going.
    await page.getByTestId("clone-set").click();
    await expect(page).toHaveURL(/\/login\?next=/);
    await snap(page, testInfo, "editor-01-login-first");
    await page.getByRole("link", { name: "Create an account" }).click();
    await expect(page).toHaveURL(/\/signup\?next=/);
    await page.fill("input[name=username]", visitor);
    await page.fill("input[name=password]", "visitor password 1");
    await page.getByRole("button", { name: "Sign up" }).click();
    await expect(page).toHaveURL(new RegExp(`/model-sets/${sourceAddress}/clone$`));

    // The editor, prefilled from the source, with the verdict computed in the browser.
    const verdict = page.getByTestId("projection-verdict");
    await expect(verdict).toContainText("Achievable: Yes", { timeout: 20_000 });
    await expect(page.getByTestId("requirement-row")).toHaveCount(2);
    await expect(page.getByTestId("projection-weights").locator("li")).toHaveCount(MODELS.length);
    // Each requirement's projected distribution against its target, and the trade-off curve of
    // the first requirement (computed a few points per frame after the page hydrates).
    await expect(page.getByTestId("projection-chart").locator("svg")).toHaveCount(2);
    const curve = page.getByTestId("tradeoff-chart");
    await expect(curve.locator("svg")).toBeVisible();
    expect(Number(await curve.getAttribute("data-points"))).toBeGreaterThanOrEqual(20);
    await snap(page, testInfo, "editor-02-behaviors", true);

    // The projection computed in the browser (WASM) equals the server's for the same inputs.
    await page.getByText("The engine's numbers (JSON)").click();
    await expect(page.getByTestId("projection-json")).toContainText('"projection"');
    const raw = JSON.parse((await page.getByTestId("projection-json").textContent())!);
    const server = await page.request.post("/api/v1/projections", { data: raw.request });
    expect(server.status(), await server.text()).toBe(200);
    expectSameNumbers(raw.projection, (await server.json()).projection, "projection");
    await page.getByText("The engine's numbers (JSON)").click();

    // Tighten the latency requirement until nothing can meet it: No, with the reason.
    const latency = page.getByTestId("requirement-target").first();
    await latency.fill("50");
    await expect(verdict).toContainText("Achievable: No");
    await expect(page.getByTestId("projection-reasons")).toContainText("No model meets");
    await snap(page, testInfo, "editor-03-no");
    // A target that is not a number is kept as typed, named beside the field, and left out.
    await latency.fill("fast");
    await expect(page.locator("#" + (await latency.getAttribute("aria-describedby")))).toContainText("not a number");
    await expect(latency).toHaveValue("fast");
    await latency.fill("50");
    await expect(verdict).toContainText("Achievable: No");

    // Apply the suggested nearest target: Yes again.
    const apply = page.getByTestId("apply-suggestion").first();
    await expect(apply).toContainText("latency");
    await apply.click();
    await expect(verdict).toContainText("Achievable: Yes");
    // The suggestion is one the projection itself marks met, not only the verdict.
    await expect(page.getByTestId("projection-check").first().locator(".badge")).toHaveText("Met");
    const applied = Number(await latency.inputValue());
    expect(applied).toBeGreaterThan(50);
    expect(applied).toBeLessThan(6000);
    await snap(page, testInfo, "editor-04-applied");

    // The other steps.
    for (const step of ["evals", "models", "details"]) {
      await page.getByTestId(`step-${step}`).click();
      await snap(page, testInfo, `editor-05-${step}`, step === "models");
    }
    // Details: a bad slug is named beside its field and nothing else is lost.
    const slugInput = page.getByTestId("set-slug-input");
    await slugInput.fill("No Spaces!");
    await page.getByTestId("save-set").click();
    await expect(page.locator("#slug-error")).toContainText("lowercase");
    await expect(slugInput).toHaveValue("No Spaces!");
    await snap(page, testInfo, "editor-06-slug-error");
    const slug = `mine-${run}`;
    await slugInput.fill(slug);
    await expect(page.getByTestId("slug-status")).toContainText("available");
    await page.getByTestId("save-set").click();

    // The new set's page, naming its source.
    const address = `@${visitor}/${slug}`;
    await expect(page).toHaveURL(new RegExp(`/model-sets/${address}$`));
    await expect(page.getByTestId("cloned-from")).toHaveText(sourceAddress);
    await expect(page.getByTestId("targets")).toContainText(`${applied}`.slice(0, 2));
    await snap(page, testInfo, "editor-07-deployed", true);

    // Called with the OpenAI client and the visitor's key.
    const key = await page.request.post("/api/create_api_key", { form: { name: "mine" }, headers: { accept: "application/json" } });
    expect(key.status()).toBe(200);
    const secret = (await key.json()).secret;
    await sendTraffic(baseURL, secret, address, 4, 2);

    // Edit: a requirement changes; the page shows revision 2.
    await page.getByTestId("edit-set").click();
    await expect(page).toHaveURL(new RegExp(`/model-sets/${address}/edit$`));
    await expect(verdict).toBeVisible();
    await page.getByTestId("requirement-target").nth(1).fill("0.005");
    await page.getByTestId("save-set").click();
    await expect(page).toHaveURL(new RegExp(`/model-sets/${address}$`));
    await expect(page.getByTestId("history")).toContainText(/cost per request/);
    await expect(page.getByText("revision 2")).toBeVisible();
    await snap(page, testInfo, "editor-08-edited");

    // Someone else sees Clone but no edit, and the API refuses their change.
    const other = await playwright.request.newContext({ baseURL });
    const otherPage = await page.context().browser()!.newPage();
    await otherPage.goto(`${baseURL}/model-sets/${address}`);
    await expect(otherPage.getByTestId("clone-set")).toBeVisible();
    await expect(otherPage.getByTestId("edit-set")).toHaveCount(0);
    await otherPage.close();
    const [o, s] = address.slice(1).split("/");
    const patch = await other.patch(`/api/v1/model-sets/${o}/${s}`, {
      headers: { Authorization: `Bearer ${ownerSecret}` },
      data: { description: "not yours" },
    });
    expect(patch.status()).toBe(403);
    await other.dispose();

    // Delete: the slug typed as confirmation; then the gateway answers 404.
    await page.goto(`/model-sets/${address}/edit`);
    const confirm = page.getByTestId("delete-confirm");
    await expect(page.getByTestId("delete-button")).toBeDisabled();
    await confirm.fill(slug);
    await snap(page, testInfo, "editor-09-delete");
    await page.getByTestId("delete-button").click();
    await expect(page).toHaveURL(/\/model-sets$/);
    const gone = await page.request.post("/v1/chat/completions", {
      headers: { Authorization: `Bearer ${secret}` },
      data: { model: address, messages: [{ role: "user", content: "hi" }] },
    });
    expect(gone.status()).toBe(404);
    expect((await gone.json()).error.code).toBe("model_not_found");
    expect((await page.request.get(`/model-sets/${address}`)).status()).toBe(404);
  });
});

test("every field's bad value is named beside it, and nothing typed is lost", async ({ page }, testInfo) => {
  const user = `val${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
  const signUp = await page.request.post("/api/sign_up", {
    form: { username: user, password: "validation password" },
    headers: { accept: "application/json" },
  });
  expect(signUp.status()).toBe(200);
  await page.goto("/model-sets/new");
  // Hydrated once the trade-off curve (computed in the browser) is drawn.
  await expect(page.getByTestId("tradeoff-chart").locator("svg")).toBeVisible({ timeout: 20_000 });

  const target = page.getByTestId("requirement-target").first();
  await target.fill("soon");
  await expect(page.locator("#" + (await target.getAttribute("aria-describedby")))).toContainText("not a number");

  await page.getByTestId("step-evals").click();
  const sampling = page.getByTestId("eval-sampling");
  await sampling.fill("200");
  await expect(page.locator("#sampling-error")).toContainText("between 0 and 100");

  await page.getByTestId("step-models").click();
  const checked = page.locator("[data-testid^='use-']:checked");
  while ((await checked.count()) > 0) await checked.first().uncheck();
  await expect(page.getByTestId("projection-empty")).toBeVisible();

  await page.getByTestId("step-details").click();
  await page.getByTestId("set-name-input").fill("   ");
  await page.getByTestId("set-slug-input").fill("Bad Slug");
  const description = "d".repeat(2001);
  await page.locator("textarea").fill(description);
  const categories = Array.from({ length: 11 }, (_, i) => `c${i}`).join(", ");
  await page.locator("input[aria-describedby='categories-error']").fill(categories);

  await page.getByTestId("save-set").click();
  await expect(page.getByTestId("save-error")).toContainText("fields to fix");
  // The editor opens the first step with an error; the details hold four.
  await expect(page.getByTestId("step-behaviors")).toHaveAttribute("aria-current", "step");
  await page.getByTestId("step-details").click();
  await expect(page.locator("#name-error")).toContainText("name");
  await expect(page.locator("#slug-error")).toContainText("lowercase");
  await expect(page.locator("#description-error")).toContainText("this has 2001");
  await expect(page.locator("#categories-error")).toContainText("At most 10 categories");
  await snap(page, testInfo, "validation-details");
  // Every step with an error is marked, and what was typed is still there.
  for (const step of ["behaviors", "evals", "models", "details"]) {
    await expect(page.getByTestId(`step-${step}`)).toHaveClass(/has-error/);
  }
  await expect(page.getByTestId("set-slug-input")).toHaveValue("Bad Slug");
  await expect(page.locator("textarea")).toHaveValue(description);
  await page.getByTestId("step-models").click();
  await expect(page.locator("#models-error")).toContainText("at least one model");
  await page.getByTestId("step-evals").click();
  await expect(sampling).toHaveValue("200");
  await page.getByTestId("step-behaviors").click();
  await expect(page.getByTestId("requirement-target").first()).toHaveValue("soon");
  await snap(page, testInfo, "validation-behaviors");

  // A reload in the tab loses nothing either: the draft comes back once the page hydrates.
  await page.reload();
  await expect(async () => {
    await page.getByTestId("step-details").click();
    await expect(page.getByTestId("set-slug-input")).toHaveValue("Bad Slug", { timeout: 500 });
  }).toPass({ timeout: 15_000 });
  await expect(page.locator("textarea")).toHaveValue(description);
  await page.getByTestId("step-behaviors").click();
  await expect(page.getByTestId("requirement-target").first()).toHaveValue("soon");
});
