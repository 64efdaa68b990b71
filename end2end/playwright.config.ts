import { defineConfig } from "@playwright/test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

// One fresh Setpoint per run: its own SQLite file and port, started from the binary that
// scripts/test built (SETPOINT_BIN), and stopped by Playwright at the end.
const port = Number(process.env.SETPOINT_E2E_PORT ?? 3917);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "setpoint-e2e-"));
const root = path.resolve(__dirname, "..");
const bin = process.env.SETPOINT_BIN ?? path.join(root, "target", "debug", "setpoint");

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    screenshot: "only-on-failure",
    trace: "off",
  },
  projects: [
    {
      name: "chromium",
      use: {
        browserName: "chromium",
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        },
      },
    },
  ],
  webServer: {
    command: `${bin} serve`,
    cwd: root,
    url: `http://127.0.0.1:${port}/`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: "ignore",
    stderr: "pipe",
    env: {
      SETPOINT_ADDR: `127.0.0.1:${port}`,
      SETPOINT_DATABASE_URL: `sqlite://${dataDir}/e2e.db`,
      SETPOINT_SITE_ROOT: path.join(root, "target", "site"),
    },
  },
});
