// The playground in a real browser: headless Chromium opens the page a running `emosense serve` answers at /,
// submits text, a photo, a speech clip, a video (over the stream, with its progress), all three fused, and a bad
// text, and checks what is drawn; then the
// dashboard at /dashboard, which must show the counters of those requests. A screenshot of
// each state goes to the folder given (kept by CI as artefacts).
//   NODE_MODULES=DIR node tests/playground/e2e.mjs http://127.0.0.1:PORT OUT_DIR   (DIR holds playwright-core)
import { createRequire } from "node:module";
import path from "node:path";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const { chromium } = createRequire(path.join(process.env.NODE_MODULES, "noop.js"))("playwright-core");
const [url, out] = process.argv.slice(2);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const fixture = (name) => path.join(repo, "tests/data", name);
const emotions = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"];
mkdirSync(out, { recursive: true });

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox", "--disable-dev-shm-usage"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => m.type() === "error" && !m.text().includes("422") && problems.push(`console: ${m.text()}`));

let passed = 0, failed = 0;
async function step(name, action, check) {
  try {
    await page.evaluate(() => { document.getElementById("result").dataset.state = "stale"; });
    await action();
    await page.waitForFunction(() => ["ok", "error"].includes(document.getElementById("result").dataset.state), null, { timeout: 60000 });
    await check();
    await page.screenshot({ path: path.join(out, `${String(passed + failed + 1).padStart(2, "0")}-${name}.png`), fullPage: true });
    console.log(`ok   ${name}`);
    passed++;
  } catch (error) {
    await page.screenshot({ path: path.join(out, `failed-${name}.png`), fullPage: true }).catch(() => {});
    console.log(`FAIL ${name}: ${error.message}`);
    failed++;
  }
}
function expect(condition, message) { if (!condition) throw new Error(message); }
const text = (selector) => page.locator(selector).first().textContent();
const state = () => page.getAttribute("#result", "data-state");

await page.goto(url);
await page.waitForFunction(() => !document.getElementById("health").textContent.includes("checking"));
expect((await text("#health")).includes("models ready"), `health: ${await text("#health")}`);
await page.screenshot({ path: path.join(out, "00-empty.png"), fullPage: true });

await step("text", async () => {
  await page.fill("#text", "They cancelled my flight again and I am furious. But the hotel upgrade made my day, I love it!");
  await page.click("#analyze-text");
}, async () => {
  expect(await state() === "ok", `state ${await state()}: ${await text("#error")}`);
  const dominant = await text("#dominant");
  expect(emotions.some((e) => dominant.startsWith(e)), `dominant: ${dominant}`);
  expect(await page.locator("#bars .bar").count() === 7, "seven bars");
  const sentences = await page.locator("#sentences span").evaluateAll((spans) => spans.map((s) => s.dataset.emotion));
  expect(sentences.length === 2, `two sentences, got ${sentences}`);
  expect(sentences[0] === "anger" && sentences[1] === "joy", `sentence emotions ${sentences}`);
  expect((await text("#meta")).includes("text · primary tier"), `meta: ${await text("#meta")}`);
});

await step("photo", async () => {
  await page.setInputFiles("#file", fixture("images/group.jpg"));
}, async () => {
  expect(await state() === "ok", `state ${await state()}: ${await text("#error")}`);
  const faces = Number(await page.getAttribute("#figure canvas", "data-faces"));
  expect(faces === 5, `five faces boxed, got ${faces}`);
  await page.waitForFunction(() => document.querySelector("#figure img").complete);
  expect(!(await page.locator("#figure-section").getAttribute("class")).includes("hidden"), "faces shown");
});

await step("speech", async () => {
  await page.setInputFiles("#file", fixture("audio/speech.wav"));
}, async () => {
  expect(await state() === "ok", `state ${await state()}: ${await text("#error")}`);
  expect((await text("#meta")).startsWith("audio"), `meta: ${await text("#meta")}`);
  expect(await page.locator("#timeline .segment").count() >= 1, "a timeline of the speech");
});

await step("video", async () => {
  await page.evaluate(() => {
    // Counts the progress messages the page shows while the video is analysed.
    window.progressSeen = 0;
    new MutationObserver(() => { window.progressSeen = Number(document.getElementById("progress-box").dataset.events); })
      .observe(document.getElementById("progress-box"), { attributes: true });
  });
  await page.setInputFiles("#file", fixture("video/faces.mp4"));
}, async () => {
  expect(await state() === "ok", `state ${await state()}: ${await text("#error")}`);
  expect((await text("#meta")).startsWith("face"), `meta: ${await text("#meta")}`);
  const segments = await page.locator("#timeline .segment").evaluateAll((s) => s.map((x) => x.dataset.emotion));
  expect(segments.length >= 3 && segments[0] === "joy", `a timeline of the video: ${segments}`);
  const seen = await page.evaluate(() => window.progressSeen);
  expect(seen === segments.length, `one progress message per frame shown (${seen} for ${segments.length} frames)`);
});

await step("gif", async () => {
  await page.setInputFiles("#file", fixture("video/faces.gif"));
}, async () => {
  expect(await state() === "ok", `state ${await state()}: ${await text("#error")}`);
  expect(await page.locator("#timeline .segment").count() >= 2, "an animated GIF gets a timeline");
  expect((await page.locator("#figure-section").getAttribute("class")).includes("hidden"), "and no still image");
});

await step("fused", async () => {
  await page.click("#analyze-all");
}, async () => {
  expect(await state() === "ok", `state ${await state()}: ${await text("#error")}`);
  const rows = await page.locator("#fusion tr[data-modality]").evaluateAll((r) => r.map((x) => x.dataset.modality));
  expect(rows.join(",") === "text,audio,face", `fusion rows ${rows}`);
});

await step("error", async () => {
  await page.fill("#text", "   ");
  await page.click("#analyze-text");
}, async () => {
  expect(await state() === "error", `state ${await state()}`);
  expect((await text("#error-code")).includes("422 invalid_input"), `error code: ${await text("#error-code")}`);
  expect((await text("#error-message")).includes("text"), `error message: ${await text("#error-message")}`);
});

// The dashboard draws the counters of everything above.
try {
  await page.goto(new URL("/dashboard", url).href);
  await page.waitForFunction(() => document.querySelectorAll("#emotions .bar").length > 0, null, { timeout: 10000 });
  const modalities = await page.locator("#emotions .bar").evaluateAll((bars) => [...new Set(bars.map((b) => b.dataset.modality))].sort());
  expect(modalities.join(",") === "audio,face,multimodal,text", `emotions drawn for ${modalities}`);
  const routes = await page.locator("#requests td:first-child").allTextContents();
  expect(routes.includes("/api/v1/emotion/analyze/text") && routes.some((r) => r.includes("invalid_input")), `requests table: ${routes}`);
  expect((await page.locator("#models td.loaded").count()) >= 3, "loaded models listed");
  await page.screenshot({ path: path.join(out, "06-dashboard.png"), fullPage: true });
  console.log("ok   dashboard");
  passed++;
} catch (error) {
  await page.screenshot({ path: path.join(out, "failed-dashboard.png"), fullPage: true }).catch(() => {});
  console.log(`FAIL dashboard: ${error.message}`);
  failed++;
}

await browser.close();
for (const p of problems) { console.log(`FAIL ${p}`); failed++; }
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
