// The editor's engine work timed in headless Chromium: see scripts/bench-editor, which builds
// the bundle with bench_engine exported, serves it, and runs this.
//   node bench/editor.mjs <base URL> <runs>
import { chromium } from "@playwright/test";
const [base, runs] = [process.argv[2], Number(process.argv[3])];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
const page = await browser.newPage();
await page.goto(base + "/model-sets");
const result = await page.evaluate(async (runs) => {
  const m = await import("/pkg/setpoint.js");
  // The page's own script instantiates the WASM module this import shares; until it has, the
  // exports have no instance to call. Wait for it (the load event does not).
  for (let tries = 0; ; tries++) {
    try {
      m.bench_engine(20, 6, 24, 1);
      break;
    } catch (e) {
      if (tries > 200 || !(e instanceof TypeError)) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  // Warm up (JIT tiers), then measure.
  m.bench_engine(20, 6, 24, 20);
  return JSON.parse(m.bench_engine(20, 6, 24, runs));
}, runs);
await browser.close();
const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const line = (name, xs, target) => console.log(
  `${name.padEnd(44)} n=${String(xs.length).padStart(4)}  p50 ${q(xs, 0.5).toFixed(2).padStart(7)} ms  p95 ${q(xs, 0.95).toFixed(2).padStart(7)} ms  max ${Math.max(...xs).toFixed(2).padStart(7)} ms  target ${target}: ${q(xs, 0.95) <= Number(target.split(" ").pop()) ? "met" : "MISSED"}`);
console.log(`Chromium ${browser.version?.() ?? ""}, engine in WASM; failures: ${result.failures}`);
line("projection, 20 models x 6 requirements", result.projection, "p95 <= 16");
line("trade-off curve, 25 plans (20 x 6)", result.tradeoff, "p95 <= 200");
