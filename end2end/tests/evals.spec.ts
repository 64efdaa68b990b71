import { expect, test } from "@playwright/test";
import { sendTraffic, snap } from "./helpers";

// Evals on the pages, without waiting for a judge: a newcomer starts from the "Most relevant
// under a budget" intent and is told its metric is not measured, ticks it from there; in the
// Evals step ticks G-Eval and JSON correctness, whose criteria and schema open under them and
// are checked beside their fields; deploys; the set page shows the settings, the Evals section's
// empty state and, for the owner only, the latest evaluated requests; Edit is prefilled.
// Scores themselves (charts with points, the list with reasons) need the judge to run: they
// are the integrator's, with the server's evals in place.

test.describe("evals", () => {
  const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
  const owner = `ev${run}`;
  const name = `Judged ${run}`;
  const criteria = "The answer is correct, cites its sources and stays under 200 words.";
  const schema = '{"type": "object", "required": ["answer"]}';

  test("criteria and schema: checked beside their fields, saved, shown, prefilled; the latest evals are the owner's", async ({ page }, testInfo) => {
    test.setTimeout(120_000);
    await page.goto("/signup?next=/model-sets/new");
    await page.fill("input[name=username]", owner);
    await page.fill("input[name=password]", "evals test password");
    await page.getByRole("button", { name: "Sign up" }).click();
    await expect(page).toHaveURL(/\/model-sets\/new$/);
    await expect(page.getByTestId("projection-verdict")).toBeVisible({ timeout: 20_000 });

    // Behaviors: the intent maximises answer relevancy, which is not ticked yet.
    await page.getByRole("button", { name: "Most relevant under a budget" }).click();
    const note = page.getByTestId("unmeasured");
    await expect(note).toContainText("Answer relevancy is not measured: tick it in Evals");
    await snap(page, testInfo, "evals-01-unmeasured");
    await page.getByRole("button", { name: "Tick answer relevancy in Evals" }).click();
    await expect(note).toHaveCount(0);

    // Evals: each metric says what it costs; G-Eval and JSON correctness open their fields.
    await page.getByTestId("step-evals").click();
    await expect(page.getByTestId("metric-answer_relevancy")).toBeChecked();
    await expect(page.getByTestId("metric-option-answer_relevancy")).toContainText("2 judge calls");
    await expect(page.getByTestId("metric-option-toxicity")).toContainText("lower is better");
    await expect(page.getByTestId("metric-option-json_correctness")).toContainText("no judge call");
    await expect(page.getByTestId("eval-criteria")).toHaveCount(0);
    await page.getByTestId("metric-g_eval").check();
    await expect(page.getByTestId("eval-criteria")).toHaveAttribute("placeholder", /cites its sources/);
    await page.getByTestId("metric-json_correctness").check();
    // A schema that does not parse is named as it is typed, and kept.
    await page.getByTestId("eval-schema").fill('{"type": ');
    await expect(page.locator("#schema-error")).toContainText("Not valid JSON");
    await expect(page.getByTestId("eval-schema")).toHaveAttribute("aria-invalid", "true");
    await expect(page.getByTestId("eval-cost")).toContainText("per 1,000 requests");
    await snap(page, testInfo, "evals-02-step", true);

    // Saving without criteria comes back to the Evals step, the message beside the criteria.
    await page.getByTestId("step-details").click();
    await page.getByTestId("set-name-input").fill(name);
    await page.getByTestId("save-set").click();
    await expect(page.getByTestId("step-evals")).toHaveAttribute("aria-current", "step");
    await expect(page.locator("#criteria-error")).toContainText("G-Eval needs criteria");
    await page.getByTestId("eval-criteria").fill(criteria);
    await page.getByTestId("eval-schema").fill(schema);
    await expect(page.locator("#schema-error")).toBeEmpty();
    await page.getByTestId("save-set").click();
    await expect(page).toHaveURL(new RegExp(`/model-sets/@${owner}/`));
    const address = new URL(page.url()).pathname;

    // The set page: the settings, the Evals section's empty state, the owner's latest evals.
    await expect(page.getByTestId("eval-settings").getByTestId("eval-criteria")).toHaveText(criteria);
    await expect(page.getByTestId("eval-settings").getByTestId("eval-schema")).toContainText("against a schema");
    const section = page.locator('details[data-section="evals"]');
    await expect(section).toHaveCount(1);
    if ((await section.getAttribute("open")) === null) await section.locator("summary").click();
    await expect(section.getByTestId("no-evals")).toContainText("No evals yet: 10 % of requests are judged");
    await expect(page.getByTestId("latest-evals")).toContainText("No evaluated requests yet");
    await snap(page, testInfo, "evals-03-set-page", true);

    // Edit starts from the saved criteria and schema.
    await page.getByTestId("edit-set").click();
    await page.getByTestId("step-evals").click();
    await expect(page.getByTestId("eval-criteria")).toHaveValue(criteria);
    await expect(page.getByTestId("eval-schema")).toHaveValue(schema);

    // A visitor reads the settings, not the latest evals, and the page never asks for them.
    const visitor = await page.context().browser()!.newPage();
    const asked: string[] = [];
    visitor.on("request", (r) => {
      if (r.url().includes("latest_evals")) asked.push(r.url());
    });
    await visitor.goto(address);
    await expect(visitor.getByTestId("eval-settings")).toContainText(criteria);
    await expect(visitor.locator('details[data-section="evals"]')).toHaveCount(1);
    await expect(visitor.getByTestId("latest-evals")).toHaveCount(0);
    expect(asked).toEqual([]);
    await visitor.close();
  });

  test("the judge scores sampled requests: the chart fills, the owner reads scores, reasons and the judge's cost", async ({ page }, testInfo) => {
    test.setTimeout(180_000);
    const baseURL = testInfo.project.use.baseURL!;
    const judged = `judged${run}`;
    // Signed up through the page's own context, so the page is the owner's.
    const signUp = await page.request.post("/api/sign_up", {
      form: { username: judged, password: "evals test password" },
      headers: { accept: "application/json" },
    });
    expect(signUp.status()).toBe(200);
    const key = await page.request.post("/api/create_api_key", {
      form: { name: "evals" },
      headers: { accept: "application/json" },
    });
    const secret = (await key.json()).secret as string;
    const created = await page.request.post("/api/v1/model-sets", {
      headers: { Authorization: `Bearer ${secret}` },
      data: {
        name: `Relevant ${run}`,
        models: ["groq/llama-3.1-8b-instant", "anthropic/claude-3-7-sonnet"],
        requirements: [
          { dimension: { kind: "eval", metric: "answer_relevancy" }, statistic: "mean", comparator: ">=", target: 0.8 },
        ],
        evals: { metrics: ["answer_relevancy"], sampling: 1.0 },
      },
    });
    expect(created.status(), await created.text()).toBe(201);
    const set = await created.json();
    const traffic = await sendTraffic(baseURL, secret, `@${judged}/${set.slug}`, 6, 4);
    const answered = traffic.plain + traffic.streamed;

    // Every answered request is judged (sampling 1.0), off the request path, within seconds.
    let scored: any[] = [];
    for (let i = 0; i < 90 && scored.length < answered; i++) {
      const latest = await page.request.post("/api/latest_evals", {
        form: { owner: judged, slug: set.slug },
        headers: { accept: "application/json" },
      });
      expect(latest.status()).toBe(200);
      scored = await latest.json();
      if (scored.length < answered) await page.waitForTimeout(1000);
    }
    expect(scored.length).toBe(answered);
    for (const request of scored) {
      const [relevancy] = request.results;
      expect(relevancy.metric).toBe("answer_relevancy");
      // A score from the judge's verdicts, with its reason, and what the judge charged.
      if (relevancy.error) continue;
      expect(relevancy.score).toBeGreaterThanOrEqual(0);
      expect(relevancy.score).toBeLessThanOrEqual(1);
      expect(relevancy.reason).toMatch(/statement/);
      expect(relevancy.cost_usd).toBeGreaterThan(0);
    }
    expect(scored.filter((r) => !r.results[0].error).length).toBeGreaterThan(answered / 2);

    await page.goto(`/model-sets/@${judged}/${set.slug}?range=1h`);
    const section = page.locator('details[data-section="evals"]');
    if ((await section.getAttribute("open")) === null) await section.locator("summary").click();
    // The chart of mean answer relevancy has points (each with its value on hover).
    const chart = section.locator("svg").first();
    await expect(chart).toBeVisible();
    await expect(chart.locator("title").first()).toBeAttached({ timeout: 20_000 });
    await expect(section.getByTestId("no-evals")).toHaveCount(0);
    const latest = page.getByTestId("latest-evals");
    await expect(latest).toContainText("statement");
    await expect(latest).toContainText("$");
    await snap(page, testInfo, "evals-04-scored", true);
  });
});
