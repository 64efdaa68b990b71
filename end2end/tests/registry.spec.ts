import { expect, test } from "@playwright/test";

test("the registry lists Model Sets and searches them", async ({ page, request }) => {
  const username = `r${Date.now().toString(36)}`;
  // An account and a key through the pages' own endpoints, then a set through the JSON API.
  const signUp = await request.post("/api/sign_up", {
    form: { username, password: "registry password" },
    headers: { accept: "application/json" },
  });
  expect(signUp.status()).toBe(200);
  const created = await request.post("/api/create_api_key", {
    form: { name: "registry" },
    headers: { accept: "application/json" },
  });
  const { secret } = await created.json();
  const set = await request.post("/api/v1/model-sets", {
    headers: { Authorization: `Bearer ${secret}` },
    data: {
      name: "Registry Demo",
      description: "Cheap and quick answers.",
      categories: ["chat"],
      tags: ["demo"],
      models: ["openai/gpt-4o-mini", "groq/llama-3.1-8b-instant"],
    },
  });
  expect(set.status()).toBe(201);

  await page.goto("/");
  await page.getByRole("link", { name: "Model Sets", exact: true }).first().click();
  await expect(page).toHaveURL(/\/model-sets$/);
  // The address is unique to this run (the name may repeat across runs on one server).
  const card = page.locator("article.set-card", { hasText: `@${username}/registry-demo` });
  await expect(card).toBeVisible();
  await expect(card).toContainText("Registry Demo");
  await expect(card).toContainText("2 models");
  await expect(card).toContainText("#demo");

  await page.getByPlaceholder("Search by name, description, category or tag").fill("no-such-set-anywhere");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByText("No Model Sets match this search.")).toBeVisible();
  await page.getByPlaceholder("Search by name, description, category or tag").fill(username);
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.locator("article.set-card")).toHaveCount(1);
  await expect(page.locator("article.set-card")).toContainText("Registry Demo");
});
