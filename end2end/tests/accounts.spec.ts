import { expect, test, type Page } from "@playwright/test";

// Usernames are unique per run so the tests can be re-run against the same server.
const unique = () => `u${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;

async function signUp(page: Page, username: string, password: string) {
  await page.goto("/signup");
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign up" }).click();
}

/** The Show/Hide toggle only works once the WASM bundle has hydrated the page. */
async function waitForHydration(page: Page) {
  const toggle = page.getByTestId("toggle-password");
  const password = page.getByLabel("Password");
  await expect(async () => {
    await toggle.click();
    await expect(password).toHaveAttribute("type", "text", { timeout: 500 });
  }).toPass({ timeout: 15_000 });
  await toggle.click();
  await expect(password).toHaveAttribute("type", "password");
}

test("the page hydrates: the password toggle works only with WASM running", async ({ page, browser }) => {
  await page.goto("/login");
  const password = page.getByLabel("Password");
  await expect(password).toHaveAttribute("type", "password");
  await waitForHydration(page);
  await password.fill("secret-value");
  await page.getByTestId("toggle-password").click();
  await expect(password).toHaveAttribute("type", "text");
  await expect(page.getByTestId("toggle-password")).toHaveText("Hide");

  // The same page with JavaScript off is server-rendered HTML only: the toggle does nothing.
  const noJs = await browser.newContext({ javaScriptEnabled: false });
  const static_ = await noJs.newPage();
  await static_.goto("/login");
  await static_.getByTestId("toggle-password").click();
  await expect(static_.getByLabel("Password")).toHaveAttribute("type", "password");
  await noJs.close();
});

test("sign up, log in, create a key, see it, revoke it, log out", async ({ page, request }) => {
  const username = unique();
  const password = "correct horse battery";

  await signUp(page, username, password);
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId("account-username")).toHaveText(username);

  // Log out, then log back in with the same credentials.
  await page.getByTestId("log-out").click();
  await expect(page.getByRole("navigation", { name: "Account" }).getByRole("link", { name: "Log in", exact: true })).toBeVisible();
  await page.getByRole("navigation", { name: "Account" }).getByRole("link", { name: "Log in", exact: true }).click();
  await expect(page).toHaveURL(/\/login$/);
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId("nav-user")).toContainText(username);

  // Create a key: the secret is shown once.
  await page.getByLabel("Key name").fill("ci");
  await page.getByRole("button", { name: "Create key" }).click();
  const secretBox = page.getByTestId("new-key-secret");
  await expect(secretBox).toHaveValue(/^sk-sp-[A-Za-z0-9_-]{43}$/);
  const secret = await secretBox.inputValue();

  // It is listed by prefix, never by secret.
  const row = page.locator('tr[data-key-name="ci"]');
  await expect(row).toBeVisible();
  await expect(row).toContainText(secret.slice(0, 14));
  await expect(page.locator("table")).not.toContainText(secret);

  // The key works against the gateway.
  const ok = await request.get("/v1/models", { headers: { Authorization: `Bearer ${secret}` } });
  expect(ok.status()).toBe(200);
  const models = await ok.json();
  expect(models.object).toBe("list");
  expect(models.data.length).toBeGreaterThan(0);

  // Revoke it: the row says so and the gateway refuses the key at once.
  await row.getByRole("button", { name: "Revoke" }).click();
  await expect(row).toContainText("Revoked");
  const refused = await request.get("/v1/models", { headers: { Authorization: `Bearer ${secret}` } });
  expect(refused.status()).toBe(401);
  expect((await refused.json()).error.code).toBe("revoked_api_key");

  // After a reload the secret is gone for good; only the prefix remains.
  await page.reload();
  await expect(page.locator('tr[data-key-name="ci"]')).toContainText("Revoked");
  await expect(page.getByTestId("new-key-secret")).toHaveCount(0);

  // Log out: the account page no longer shows the account.
  await page.getByTestId("log-out").click();
  await expect(page.getByRole("navigation", { name: "Account" }).getByRole("link", { name: "Log in", exact: true })).toBeVisible();
  await page.goto("/account");
  await expect(page.getByText("to manage your account")).toBeVisible();
});

test("bad input gets a readable message", async ({ page }) => {
  const username = unique();
  await signUp(page, username, "long enough pw");
  await expect(page).toHaveURL(/\/account$/);
  await page.getByTestId("log-out").click();
  await expect(page.getByRole("navigation", { name: "Account" }).getByRole("link", { name: "Log in", exact: true })).toBeVisible();

  // Taken username.
  await signUp(page, username, "another password");
  await expect(page.getByRole("alert")).toHaveText("That username is taken.");

  // Too short a password.
  await page.getByLabel("Username").fill(unique());
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.getByRole("alert")).toContainText("at least 8 characters");

  // Wrong password and unknown user read the same.
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong username or password.");
  await page.getByLabel("Username").fill(unique());
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong username or password.");
  await expect(page).toHaveURL(/\/login$/);
});
