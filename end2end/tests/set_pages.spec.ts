import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { DESKTOP, sendTraffic, snap } from "./helpers";

// The read side of the web app end to end: a Model Set created through the JSON API, real
// traffic sent through it with the official OpenAI Python client, then the registry, the set
// page (sections, charts, scope / statistic / range switches, the live request count), the
// same pages without JavaScript, the models catalog, and a missing set's 404.
//
// Every test saves a full-page screenshot of each page it visits (1280×900, and 390×844 for
// the registry and the set page) under test-results/ via testInfo.outputPath.

const MODELS = ["openai/gpt-4o-mini", "groq/llama-3.1-8b-instant", "mistral/mistral-small"];
const SEARCH_PLACEHOLDER = "Search by name, description, category or tag";

test.use({ viewport: DESKTOP });

type SeriesLine = { model: string | null; total: { requests: number } };
type SeriesJson = { set: SeriesLine; models: SeriesLine[] };

/** The set's series as the page fetches it (the `set_series` server function). */
async function series(request: APIRequestContext, owner: string, slug: string, range = "24h"): Promise<SeriesJson> {
  const res = await request.post("/api/set_series", { form: { owner, slug, range, lines: "models" } });
  expect(res.status(), await res.text()).toBe(200);
  return res.json();
}

/** Waits until the metrics writer has stored at least `atLeast` requests of the set. */
async function waitForRollups(request: APIRequestContext, owner: string, slug: string, atLeast: number) {
  await expect
    .poll(async () => (await series(request, owner, slug)).set.total.requests, {
      message: `the set's stored request count never reached ${atLeast}`,
      timeout: 30_000,
    })
    .toBeGreaterThanOrEqual(atLeast);
}

/** The Copy button only reacts once the WASM bundle has hydrated the page. */
async function waitForHydration(page: Page) {
  const copy = page.getByTestId("snippet").getByRole("button", { name: /^Cop(y|ied)$/ }).first();
  await expect(async () => {
    await copy.click();
    await expect(copy).toHaveText("Copied", { timeout: 500 });
  }).toPass({ timeout: 15_000 });
}

/**
 * Closes and reopens each of the four monitoring sections by its summary (which ones start open
 * depends on the requirements missed) and checks each then shows at least one chart.
 */
async function openEverySection(page: Page) {
  for (const id of ["performance", "cost", "usage", "errors"]) {
    const section = page.locator(`details[data-section="${id}"]`);
    const summary = section.locator("summary");
    if ((await section.getAttribute("open")) !== null) {
      await summary.click();
      await expect(section).not.toHaveAttribute("open");
    }
    await summary.click();
    await expect(section, `the ${id} section opens`).toHaveAttribute("open", "");
    await expect(section.locator("figure.chart svg").first()).toBeVisible();
    expect(await section.locator("figure.chart svg").count(), `${id} charts`).toBeGreaterThanOrEqual(1);
  }
}

const count = (text: string | null) => Number((text ?? "").replace(/[^0-9]/g, ""));

// ---------------------------------------------------------------------------------------------

test.describe("a Model Set with traffic", () => {
  const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
  const username = `sp${run}`;
  const tag = `t${run}`;
  const name = `Set Pages ${run}`;
  // The slug is derived from the name by the server; read back after creation.
  let slug = `set-pages-${run}`;
  let address = `@${username}/${slug}`;
  let secret = "";
  let baseURL = "";
  /** The model that served the most requests, for the one-model scope. */
  let busiest = "";

  test.beforeAll(async ({ playwright }, testInfo) => {
    test.setTimeout(90_000);
    baseURL = testInfo.project.use.baseURL!;
    const request = await playwright.request.newContext({ baseURL });
    const signUp = await request.post("/api/sign_up", {
      form: { username, password: "set pages password" },
      headers: { accept: "application/json" },
    });
    expect(signUp.status()).toBe(200);
    const key = await request.post("/api/create_api_key", {
      form: { name: "set-pages" },
      headers: { accept: "application/json" },
    });
    expect(key.status()).toBe(200);
    secret = (await key.json()).secret;
    expect(secret).toMatch(/^sk-sp-/);

    const created = await request.post("/api/v1/model-sets", {
      headers: { Authorization: `Bearer ${secret}` },
      data: {
        name,
        description: "End-to-end test set: three simulated models, a latency and an error-rate target.",
        categories: ["chat"],
        tags: [tag],
        models: MODELS,
        requirements: [
          { dimension: { kind: "latency" }, statistic: "p90", comparator: "<=", target: 3000 },
          { dimension: { kind: "error_rate" }, statistic: "mean", comparator: "<=", target: 0.05 },
        ],
      },
    });
    expect(created.status(), await created.text()).toBe(201);
    const set = await created.json();
    expect(set.owner).toBe(username);
    slug = set.slug;
    address = `@${username}/${slug}`;

    const traffic = await sendTraffic(baseURL, secret, address, 8, 4);
    await waitForRollups(request, username, slug, traffic.plain + traffic.streamed);
    const lines = (await series(request, username, slug)).models.filter((l) => l.total.requests > 0);
    lines.sort((a, b) => b.total.requests - a.total.requests);
    busiest = lines[0].model!;
    expect(MODELS).toContain(busiest);
    await request.dispose();
  });

  test("the registry finds the set by its tag, by search and by chip, and opens it", async ({ page }, testInfo) => {
    await page.goto("/model-sets");
    await expect(page.getByRole("heading", { name: "Model Sets", level: 1 })).toBeVisible();
    await snap(page, testInfo, "01-registry", true);

    // Search for the tag through the search box.
    await page.getByPlaceholder(SEARCH_PLACEHOLDER).fill(tag);
    await page.getByRole("button", { name: "Search" }).click();
    await expect(page).toHaveURL(new RegExp(`[?&]q=${tag}(&|$)`));
    const cards = page.getByTestId("set-card");
    await expect(cards).toHaveCount(1);
    const card = cards.first();
    await expect(card).toHaveAttribute("data-address", address);
    await expect(card.getByRole("link", { name })).toBeVisible();
    await expect(card.getByTestId("verdict")).toBeVisible();
    expect(count(await card.getByTestId("requests-24h").textContent())).toBeGreaterThan(0);
    await expect(card.locator(".sparkline svg")).toHaveCount(1);
    await snap(page, testInfo, "02-registry-search", true);

    // The tag chip filters by tag: the same single card.
    await card.getByRole("link", { name: `#${tag}` }).click();
    await expect(page).toHaveURL(new RegExp(`[?&]tag=${tag}(&|$)`));
    await expect(page.getByTestId("active-filters")).toContainText(`#${tag}`);
    await expect(cards).toHaveCount(1);
    await expect(cards.first()).toHaveAttribute("data-address", address);
    await snap(page, testInfo, "03-registry-tag", true);

    // Open it by its name.
    await cards.first().getByRole("link", { name }).click();
    await expect(page).toHaveURL(new RegExp(`/model-sets/${address}$`));
    await expect(page.getByTestId("set-name")).toHaveText(name);
    await snap(page, testInfo, "04-set-from-registry", true);
  });

  test("the set page: targets, four sections with charts, scope, statistic and range", async ({ page }, testInfo) => {
    await page.goto(`/model-sets/${address}`);
    await expect(page.getByTestId("set-name")).toHaveText(name);
    await expect(page.getByTestId("set-address")).toHaveText(address);
    const targets = page.getByTestId("targets");
    await expect(targets.getByTestId("requirement")).toHaveCount(2);
    await expect(targets.getByTestId("requirement").nth(0)).toContainText(/latency/i);
    await expect(targets.getByTestId("requirement").nth(1)).toContainText(/error/i);
    await expect(targets.getByTestId("verdict")).toBeVisible();
    await expect(page.getByTestId("models").locator("tbody tr")).toHaveCount(MODELS.length);
    for (const id of MODELS) await expect(page.getByTestId("models")).toContainText(id);
    await expect(page.getByTestId("snippet-curl")).toContainText(`"model": "${address}"`);
    await expect(page.getByTestId("snippet-python")).toContainText(`model="${address}"`);
    await expect(page.getByTestId("snippet-js")).toContainText(`model: "${address}"`);
    await expect(page.getByTestId("history")).toBeVisible();
    await expect(page.getByTestId("clone-set")).toHaveAttribute("href", `/model-sets/${address}/clone`);
    await waitForHydration(page);
    await snap(page, testInfo, "05-set-page", true);

    // Each section opens by its summary and shows at least one chart.
    await openEverySection(page);
    const latency = page.locator('figure.chart[data-metric="Latency"]');
    await expect(latency.locator("figcaption")).toHaveText("Average latency, whole set, last 24 h");
    expect(Number(await latency.getAttribute("data-points"))).toBeGreaterThan(0);
    await snap(page, testInfo, "06-set-sections-open", true);

    // One model: the select submits its form on change.
    await page.getByTestId("scope").selectOption(busiest);
    await expect.poll(() => new URL(page.url()).searchParams.get("model")).toBe(busiest);
    await expect(latency.locator("figcaption")).toHaveText(`Average latency, ${busiest}, last 24 h`);
    await expect(page.getByTestId("scope")).toHaveValue(busiest);
    const pointTitles = latency.locator("svg title");
    expect(await pointTitles.count()).toBeGreaterThan(0);
    for (const title of await pointTitles.allTextContents()) expect(title).toContain(busiest);
    await snap(page, testInfo, "07-set-one-model", true);

    // p90: the latency chart follows the statistic, the scope stays.
    await page.locator('a[data-stat="p90"]').click();
    await expect.poll(() => new URL(page.url()).searchParams.get("stat")).toBe("p90");
    expect(new URL(page.url()).searchParams.get("model")).toBe(busiest);
    await expect(page.locator('a[data-stat="p90"]')).toHaveAttribute("aria-current", "true");
    await expect(latency.locator("figcaption")).toHaveText(/^P90 latency/);
    await expect(latency.locator("figcaption")).toContainText(busiest);
    await snap(page, testInfo, "08-set-p90", true);

    // 7 days: statistic and scope stay.
    await page.locator('a[data-range="7d"]').click();
    await expect.poll(() => new URL(page.url()).searchParams.get("range")).toBe("7d");
    expect(new URL(page.url()).searchParams.get("stat")).toBe("p90");
    expect(new URL(page.url()).searchParams.get("model")).toBe(busiest);
    await expect(page.locator('a[data-range="7d"]')).toHaveAttribute("aria-current", "true");
    await expect(latency.locator("figcaption")).toHaveText(`P90 latency, ${busiest}, last 7 days`);
    await expect(page.getByTestId("range-requests")).toBeVisible();
    expect(count(await page.getByTestId("range-requests").textContent())).toBeGreaterThan(0);
    await snap(page, testInfo, "09-set-7d", true);
  });

  test("the set page's request count grows with new traffic, without a reload", async ({ page }, testInfo) => {
    test.setTimeout(90_000);
    await page.goto(`/model-sets/${address}?range=7d&model=set&stat=avg`);
    await waitForHydration(page);
    const counter = page.getByTestId("range-requests");
    await expect(counter).toBeVisible();
    const before = count(await counter.textContent());
    expect(before).toBeGreaterThan(0);
    // A full reload would drop this.
    await page.evaluate(() => ((window as unknown as { __e2eKept: string }).__e2eKept = "kept"));
    const navigations: string[] = [];
    page.on("framenavigated", (frame) => {
      if (frame === page.mainFrame()) navigations.push(frame.url());
    });
    await snap(page, testInfo, "10-live-before", true);

    const traffic = await sendTraffic(baseURL, secret, address, 4, 2);
    const sent = traffic.plain + traffic.streamed;
    await expect
      .poll(async () => count(await counter.textContent()), {
        message: `range-requests should grow from ${before} by at least ${sent} without a reload`,
        timeout: 30_000,
      })
      .toBeGreaterThanOrEqual(before + sent);
    expect(await page.evaluate(() => (window as unknown as { __e2eKept?: string }).__e2eKept)).toBe("kept");
    expect(navigations, "the page navigated while waiting").toEqual([]);
    await snap(page, testInfo, "11-live-after", true);
  });

  test("without JavaScript the registry, the set page and /models render, and the links work", async ({ browser }, testInfo) => {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: DESKTOP, baseURL });
    const page = await context.newPage();

    // First: is each page's data in the HTML at all? Streamed out of order (Leptos' default
    // SsrMode), a <Suspense>/<Transition> that has not resolved when the shell is flushed is sent
    // as "Loading…" plus a <template> that only an inline script swaps in; the reading routes
    // use SsrMode::Async (app/src/shell.rs) so that they work without JavaScript.
    const pages: [string, string, boolean][] = [
      ["registry", `/model-sets?tag=${tag}`, true],
      ["set page", `/model-sets/${address}`, true],
      ["models", "/models", false],
    ];
    for (const [label, url, phone] of pages) {
      await page.goto(url);
      await snap(page, testInfo, `20-nojs-first-load-${label.replace(" ", "-")}`, phone);
      await expect
        .soft(
          page.locator("main"),
          `${url} shows a "Loading…" placeholder with JavaScript off: its data was streamed out of order ` +
            "into a <template> that only a script can swap in (is its route still ssr=SsrMode::Async in app/src/shell.rs?)",
        )
        .not.toContainText("Loading…", { timeout: 1_000 });
    }
    // The detailed checks below need the content; with the bug above they would only repeat it.
    if (testInfo.errors.length > 0) {
      await context.close();
      return;
    }

    await page.goto(`/model-sets?tag=${tag}`);
    await expect(page.getByTestId("set-card")).toHaveCount(1);
    await expect(page.getByTestId("set-card")).toHaveAttribute("data-address", address);
    await snap(page, testInfo, "21-nojs-registry", true);
    // The search box is a plain GET form.
    await page.getByPlaceholder(SEARCH_PLACEHOLDER).fill(tag);
    await page.getByRole("button", { name: "Search" }).click();
    await expect(page).toHaveURL(new RegExp(`[?&]q=${tag}(&|$)`));
    await expect(page.getByTestId("set-card")).toHaveCount(1);
    await snap(page, testInfo, "22-nojs-registry-search", true);

    await page.getByTestId("set-card").getByRole("link", { name }).click();
    await expect(page).toHaveURL(new RegExp(`/model-sets/${address}$`));
    await expect(page.getByTestId("set-name")).toHaveText(name);
    await expect(page.getByTestId("targets").getByTestId("requirement")).toHaveCount(2);
    await expect(page.getByTestId("snippet-curl")).toContainText(address);
    await expect(page.getByTestId("snippet-python")).toContainText(address);
    // The <details> open and close natively; each has its charts, drawn server-side.
    await openEverySection(page);
    const latencySvg = page.locator('figure.chart[data-metric="Latency"] svg');
    await expect(latencySvg).toBeVisible();
    expect(await latencySvg.locator("title").count()).toBeGreaterThan(0);
    const requests = page.locator('figure.chart[data-metric="Requests"]');
    await expect(requests.locator("svg")).toBeVisible();
    await expect(requests.locator("figcaption")).toHaveText(/^Requests per /);
    expect(await requests.locator("svg title").count()).toBeGreaterThan(0);
    await snap(page, testInfo, "23-nojs-set-page", true);

    // Range and statistic are plain links.
    await page.locator('a[data-range="1h"]').click();
    await expect.poll(() => new URL(page.url()).searchParams.get("range")).toBe("1h");
    await expect(page.locator('a[data-range="1h"]')).toHaveAttribute("aria-current", "true");
    await expect(page.locator('figure.chart[data-metric="Latency"] figcaption')).toHaveText(/last hour$/);
    await snap(page, testInfo, "24-nojs-set-1h", true);
    await page.locator('a[data-stat="p99"]').click();
    await expect.poll(() => new URL(page.url()).searchParams.get("stat")).toBe("p99");
    expect(new URL(page.url()).searchParams.get("range")).toBe("1h");
    await expect(page.locator('figure.chart[data-metric="Latency"] figcaption')).toHaveText("P99 latency, whole set, last hour");
    await snap(page, testInfo, "25-nojs-set-p99", true);
    // The scope form's <noscript> button submits it.
    await page.getByTestId("scope").selectOption("models");
    await page.getByRole("button", { name: "Show", exact: true }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("model")).toBe("models");
    const kept = new URL(page.url()).searchParams;
    expect(
      [kept.get("range"), kept.get("stat")],
      "APP BUG (no-JS): the scope form's hidden range/stat inputs use prop:value (app/src/pages/model_set/" +
        "monitoring.rs), which the server does not render, so without JavaScript choosing a scope resets range and statistic",
    ).toEqual(["1h", "p99"]);
    await expect(page.locator('figure.chart[data-metric="Latency"] figcaption')).toHaveText("P99 latency, per model, last hour");
    await snap(page, testInfo, "26-nojs-set-per-model", true);

    await page.goto("/models");
    await expect(page.getByTestId("models-table")).toBeVisible();
    for (const id of MODELS) await expect(page.locator(`tr[data-model="${id}"]`)).toHaveCount(1);
    await page.locator('a[data-sort="p90"]').click();
    await expect(page).toHaveURL(/[?&]sort=p90&dir=asc/);
    await expect(page.getByTestId("models-table")).toBeVisible();
    await snap(page, testInfo, "27-nojs-models-by-p90");
    await context.close();
  });

  test("/models lists the catalog with the traffic and sorts by a column", async ({ page }, testInfo) => {
    await page.goto("/models");
    const table = page.getByTestId("models-table");
    await expect(table).toBeVisible();
    const rows = table.locator("tbody tr");
    expect(await rows.count()).toBeGreaterThanOrEqual(MODELS.length);
    for (const id of MODELS) await expect(table.locator(`tr[data-model="${id}"]`)).toHaveCount(1);
    expect(count(await table.locator(`tr[data-model="${busiest}"]`).getByTestId("model-requests").textContent())).toBeGreaterThan(0);
    await snap(page, testInfo, "30-models");

    // Requests, most first (the first click on a numeric column sorts ascending, the second descending).
    await table.locator('a[data-sort="requests"]').click();
    await expect(page).toHaveURL(/[?&]sort=requests&dir=asc/);
    await expect(table.locator("th", { has: page.locator('a[data-sort="requests"]') })).toHaveAttribute("aria-sort", "ascending");
    await table.locator('a[data-sort="requests"]').click();
    await expect(page).toHaveURL(/[?&]sort=requests&dir=desc/);
    await expect(table.locator("th", { has: page.locator('a[data-sort="requests"]') })).toHaveAttribute("aria-sort", "descending");
    const values = (await rows.getByTestId("model-requests").allTextContents()).map(count);
    expect(values[0]).toBeGreaterThan(0);
    expect(values).toEqual([...values].sort((a, b) => b - a));
    await snap(page, testInfo, "31-models-by-requests");
  });
});

test("a missing set's page says Page not found and answers 404", async ({ page, request }, testInfo) => {
  const res = await request.get("/model-sets/@nobody/nothing");
  expect(res.status()).toBe(404);
  expect(await res.text()).toContain("Page not found");
  await page.goto("/model-sets/@nobody/nothing");
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await snap(page, testInfo, "40-not-found");
});
