// Debian's chromium driven by playwright-core (no browser download), and what a person does on
// the call demo page (GET /demo/call), one helper per step.

import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** How long one step (a login, a ring, a connection) may take before the test fails. */
const STEP_TIMEOUT_MS = 20_000;

/**
 * Headless chromium with a fake camera and microphone that need no permission prompt. Each
 * launch gets a fresh profile (playwright makes a temporary user-data-dir and removes it).
 */
export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox", // the tests run as root in CI
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      // WebRTC leaves loopback out of its candidates unless told: the tests run in a network
      // namespace where loopback is the only interface (scripts/test).
      "--allow-loopback-in-peer-connection",
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
}

/** A unique username the API accepts. */
export function newUsername(prefix) {
  return `${prefix}${randomBytes(4).toString("hex")}`;
}

/**
 * Opens the demo page in a fresh browser context (its own cookies and storage: another
 * "person"), registers `username` and waits until the socket is ready. `query` is the page's
 * query string (`?relay=1`).
 */
export async function openAsNewUser(browser, base, username, query = "") {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} from ${response.url()}`);
  });
  await page.goto(`${base}/demo/call${query}`);
  await page.fill("#username", username);
  await page.fill("#password", "mat-khau-123");
  await page.click("#register");
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("ready"));
  const userId = await page.textContent("#me-id");
  return { page, context, userId, username, problems };
}

/** Lets anyone call this user (the page's checkbox: `who_can_call` = everyone). */
export async function allowCallsFromAnyone(person) {
  await person.page.check("#anyone-may-call");
  await person.page.waitForFunction(() => window.demo.log.includes("who_can_call is now everyone"));
}

/** The status line's text. */
export function status(person) {
  return person.page.textContent("#status");
}

/** Waits until the status line starts with `prefix`. */
export async function waitForStatus(person, prefix) {
  try {
    await person.page.waitForFunction(
      (expected) => document.getElementById("status").textContent.startsWith(expected),
      prefix,
    );
  } catch (error) {
    throw new Error(`${person.username}: status never became "${prefix}…": it is "${await status(person)}"` +
      ` (${person.problems.join("; ") || "no page errors"})`, { cause: error });
  }
}

/** Waits until the page's peer connection is `connected`. */
export async function waitConnected(person) {
  await person.page.waitForFunction(() => window.demo.call?.pc?.connectionState === "connected");
}

/** Waits until the page has decoded at least one video frame from the other side. */
export async function waitForDecodedVideo(person) {
  await person.page.waitForFunction(
    async () => {
      const stats = await window.demo.call.pc.getStats();
      return [...stats.values()].some((s) => s.type === "inbound-rtp" && s.kind === "video" && s.framesDecoded > 0);
    },
    undefined,
    { polling: 200 },
  );
}

/** The ICE candidate types (host, srflx, relay) of both ends of the selected candidate pair. */
export function selectedCandidateTypes(person) {
  return person.page.evaluate(async () => {
    const stats = await window.demo.call.pc.getStats();
    const transport = [...stats.values()].find((s) => s.type === "transport" && s.selectedCandidatePairId);
    const pair = transport && stats.get(transport.selectedCandidatePairId);
    if (!pair) return null;
    return { local: stats.get(pair.localCandidateId).candidateType, remote: stats.get(pair.remoteCandidateId).candidateType };
  });
}

/** Sends a text over the call's data channel and waits until `to` shows it. */
export async function chat(from, to, text) {
  await from.page.waitForSelector("#chat-send:not([disabled])");
  await from.page.fill("#chat-text", text);
  await from.page.click("#chat-send");
  await to.page.waitForFunction((expected) => window.demo.log.includes(`them: ${expected}`), text);
}
