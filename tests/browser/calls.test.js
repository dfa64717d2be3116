// Calls between two real browsers through the call demo page (GET /demo/call): two users on
// chat-server, video both ways, text over the data channel, hang up and the SYSTEM message it
// leaves; forced through coturn; and with the two users on two server nodes. Run by
// scripts/test (scripts/browser-test) inside a network namespace of its own.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  allowCallsFromAnyone,
  chat,
  launchChromium,
  newUsername,
  openAsNewUser,
  selectedCandidateTypes,
  waitConnected,
  waitForDecodedVideo,
  waitForStatus,
} from "./support/browser.js";
import { createDatabase, startChatServer, startCoturn, startRedis } from "./support/processes.js";

let browser;
before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
});

/** Runs `body` with what `setup` started, stopping all of it (in reverse order) afterwards. */
async function withStarted(setup, body) {
  const stops = [];
  try {
    await body(await setup((stop) => stops.push(stop)));
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

/**
 * Registers An on `anBase` and Binh on `binhBase`, lets An call Binh by username with video,
 * checks that the call connects with video decoded on both sides and that text crosses the
 * data channel both ways, then hangs up. Returns both people, still on the page.
 */
async function videoCall(anBase, binhBase, { query = "", onStarted = () => {} } = {}) {
  const an = await openAsNewUser(browser, anBase, newUsername("an"), query);
  const binh = await openAsNewUser(browser, binhBase, newUsername("binh"), query);
  onStarted(() => Promise.all([an.context.close(), binh.context.close()]));
  await allowCallsFromAnyone(binh);

  await an.page.fill("#callee", binh.username);
  await an.page.click("#call-video");
  await waitForStatus(binh, "incoming video call from");
  await waitForStatus(an, "ringing");
  await binh.page.click("#accept");

  await Promise.all([waitConnected(an), waitConnected(binh)]);
  await Promise.all([waitForDecodedVideo(an), waitForDecodedVideo(binh)]);
  await chat(an, binh, "Alo, nghe rõ không?");
  await chat(binh, an, "Rõ lắm!");
  return { an, binh };
}

/** Hangs up on An's side and checks what both sides and the history keep of the call. */
async function hangUpAndCheckRecord(an, binh, binhBase) {
  await an.page.click("#hangup");
  await Promise.all([waitForStatus(an, "call ended: hung_up after"), waitForStatus(binh, "call ended: hung_up after")]);
  // The SYSTEM message reaches both pages and stays in the history of their conversation.
  for (const person of [an, binh]) {
    await person.page.waitForFunction(() => window.demo.callRecords.length === 1);
  }
  const pushed = await binh.page.evaluate(() => window.demo.callRecords[0]);
  assert.equal(pushed.kind, "SYSTEM");
  const token = await binh.page.evaluate(() => window.demo.tokens.access_token);
  const response = await fetch(`${binhBase}/api/v1/conversations/${pushed.conversation_id}/messages?limit=50`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  assert.equal(response.status, 200);
  const { messages } = await response.json();
  const records = messages.filter((message) => message.system?.event === "call");
  assert.equal(records.length, 1, `one call record in ${JSON.stringify(messages)}`);
  const [record] = records;
  assert.equal(record.id, pushed.id);
  assert.equal(record.system.outcome, "ended");
  assert.equal(record.system.reason, "hung_up");
  assert.equal(record.system.media, "video");
  assert.equal(record.system.caller, an.userId);
  assert.ok(record.system.duration_ms > 0, `a duration: ${JSON.stringify(record.system)}`);
  for (const person of [an, binh]) assert.deepEqual(person.problems, [], `${person.username}'s page`);
}

test("a video call between two tabs connects, carries video and text, and hangs up with a record", async () => {
  await withStarted(
    async (onStop) => {
      const server = await startChatServer();
      onStop(server.stop);
      return { server, onStop };
    },
    async ({ server, onStop }) => {
      const { an, binh } = await videoCall(server.base, server.base, { onStarted: onStop });
      // Without TURN the pair is direct: host candidates on loopback.
      assert.deepEqual(await selectedCandidateTypes(an), { local: "host", remote: "host" });
      await hangUpAndCheckRecord(an, binh, server.base);
    },
  );
});

test("a call forced to relay-only connects through coturn with the server's TURN credentials", async () => {
  await withStarted(
    async (onStop) => {
      const turn = await startCoturn();
      onStop(turn.stop);
      const server = await startChatServer({ TURN_URLS: turn.urls, TURN_SHARED_SECRET: turn.secret });
      onStop(server.stop);
      return { server, turn, onStop };
    },
    async ({ server, turn, onStop }) => {
      const { an, binh } = await videoCall(server.base, server.base, { query: "?relay=1", onStarted: onStop });
      for (const person of [an, binh]) {
        assert.deepEqual(await selectedCandidateTypes(person), { local: "relay", remote: "relay" },
          `${person.username}'s selected pair; coturn said:\n${turn.log().slice(-2000)}`);
      }
      await hangUpAndCheckRecord(an, binh, server.base);
    },
  );
});

test("a call between users on two server nodes (Postgres + Redis) works the same", async () => {
  await withStarted(
    async (onStop) => {
      const database = createDatabase();
      onStop(database.drop);
      const redis = await startRedis();
      onStop(redis.stop);
      const shared = { DATABASE_URL: database.url, REDIS_URL: redis.url, JWT_SECRET: "browser-test-secret-0123456789abcdef" };
      // The first node migrates the fresh database; the second finds it ready.
      const first = await startChatServer({ ...shared, CHAT_MIGRATE: "true" });
      onStop(first.stop);
      const second = await startChatServer(shared);
      onStop(second.stop);
      return { first, second, onStop };
    },
    async ({ first, second, onStop }) => {
      const { an, binh } = await videoCall(first.base, second.base, { onStarted: onStop });
      await hangUpAndCheckRecord(an, binh, second.base);
    },
  );
});
