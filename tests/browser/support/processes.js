// The real processes the browser tests talk to: chat-server (embedded, or on Postgres + Redis),
// coturn and redis-server, each on a free loopback port, each stopped by the test that started it.

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dirname, "../../..");
/** The binary under test: `CHAT_SERVER_BIN`, else the debug build scripts/test makes. */
export const CHAT_SERVER_BIN = process.env.CHAT_SERVER_BIN ?? join(REPO, "target/debug/chat-server");

const STARTUP_TIMEOUT_MS = 20_000;

/** Environment variables chat-server reads as settings. */
const SERVER_SETTINGS = /^(DATABASE_URL|REDIS_URL|S3_|CDN_|CLAMD_ADDR|FCM_|TURN_|STUN_|CHAT_|JWT_SECRET)/;

/** A port free on 127.0.0.1 for both TCP and UDP (coturn listens on both). */
export async function freePort() {
  for (;;) {
    const udp = createSocket("udp4");
    await new Promise((done, fail) => udp.once("error", fail).bind(0, "127.0.0.1", done));
    const { port } = udp.address();
    const tcpFree = await new Promise((done) => {
      const server = createServer().once("error", () => done(false));
      server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
    });
    udp.close();
    if (tcpFree) return port;
  }
}

/**
 * Starts chat-server on a free port with a fresh data directory; `env` adds settings
 * (TURN_URLS, DATABASE_URL, ...). Resolves to `{base, stop, log}` once it listens.
 */
export async function startChatServer(env = {}) {
  const port = await freePort();
  const server = startLogged("chat-server", CHAT_SERVER_BIN, (dir) => ({
    args: [],
    env: { RUST_LOG: "warn", ...env, CHAT_DATA_DIR: dir, CHAT_LISTEN: `127.0.0.1:${port}` },
    // Only the settings given here count: not the DATABASE_URL, REDIS_URL, S3_* or
    // CLAMD_ADDR that scripts/test exported for the Rust suite (an embedded server must stay
    // embedded, and inside the tests' network namespace those addresses are not reachable).
    dropInherited: SERVER_SETTINGS,
  }));
  const base = `http://127.0.0.1:${port}`;
  // It binds its port before it migrates and connects its stores: ready means /ready says so.
  await waitUntil(`chat-server at ${base}/ready`, server.exited, async () => {
    const response = await fetch(`${base}/ready`).catch(() => null);
    return response?.status === 200;
  });
  return { base, stop: server.stop, log: server.log };
}

/**
 * coturn on 127.0.0.1 with the TURN REST scheme (use-auth-secret) and a fresh secret, relaying
 * on 127.0.0.1. Resolves to `{urls, secret, stop, log}` once it accepts connections.
 */
export async function startCoturn() {
  const port = await freePort();
  const secret = randomBytes(16).toString("hex");
  const turn = startLogged("turnserver", "turnserver", (dir) => ({
    args: [
      "-n", // no configuration file: only these flags
      "--listening-ip=127.0.0.1",
      "--relay-ip=127.0.0.1",
      `--listening-port=${port}`,
      "--use-auth-secret",
      `--static-auth-secret=${secret}`,
      "--realm=chat-browser-test",
      "--no-cli",
      "--no-tls",
      "--no-dtls",
      // Both browsers' relay addresses are on loopback, which coturn refuses as peers by default.
      "--allow-loopback-peers",
      "--log-file=stdout",
      // Its SQLite database and pid file in its own directory, not under /var.
      `--userdb=${join(dir, "turndb")}`,
      `--pidfile=${join(dir, "turnserver.pid")}`,
    ],
  }));
  await waitForTcp(port, "turnserver", turn.exited);
  return { urls: `turn:127.0.0.1:${port}?transport=udp`, secret, stop: turn.stop, log: turn.log };
}

/** A redis-server of our own on a free port, keeping nothing on disk. */
export async function startRedis() {
  const port = await freePort();
  const redis = startLogged("redis", "redis-server", (dir) => ({
    args: ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--dir", dir],
  }));
  await waitForTcp(port, "redis-server", redis.exited);
  return { url: `redis://127.0.0.1:${port}`, stop: redis.stop };
}

/**
 * A throwaway Postgres database, reached over the local server's unix socket (in
 * `BROWSER_TEST_PG_SOCKET_DIR`, default /var/run/postgresql), which works from inside the
 * tests' own network namespace too. Returns `{url, drop}`.
 */
export function createDatabase() {
  const socketDir = process.env.BROWSER_TEST_PG_SOCKET_DIR ?? "/var/run/postgresql";
  const urlOf = (database) => `postgresql://postgres@/${database}?host=${encodeURIComponent(socketDir)}`;
  const name = `browser_${randomBytes(6).toString("hex")}`;
  const psql = (sql) => {
    const result = spawnSync("psql", [urlOf("postgres"), "-Atqc", sql], { encoding: "utf8" });
    if (result.error || result.status !== 0) {
      throw new Error(`psql ${sql}: ${result.error?.message ?? result.stderr} (is Postgres up? scripts/test starts it)`);
    }
  };
  psql(`CREATE DATABASE ${name}`);
  return { url: urlOf(name), drop: () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/**
 * Starts a child in a fresh directory of its own (`setup(dir)` gives its arguments and extra
 * environment), its output in a log file there; `stop()` ends it and removes the directory.
 */
function startLogged(what, command, setup) {
  const dir = mkdtempSync(join(tmpdir(), `chat-browser-${what}-`));
  const { args, env = {}, dropInherited } = setup(dir);
  const logPath = join(dir, `${what}.log`);
  const log = openSync(logPath, "w");
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !(dropInherited && dropInherited.test(name))),
  );
  const child = spawn(command, args, { env: { ...inherited, ...env }, stdio: ["ignore", log, log] });
  closeSync(log);
  let exit = null;
  const gone = new Promise((done) => {
    child.once("exit", (code, signal) => { exit = `status ${code ?? signal}`; done(); });
    child.once("error", (error) => {
      exit = `${error.message} (is ${command} installed? scripts/test installs it)`;
      done();
    });
  });
  const readLog = () => readFileSync(logPath, "utf8");
  return {
    exited: () => exit && `${exit}\n${readLog()}`,
    log: readLog,
    async stop() {
      if (exit === null) {
        child.kill("SIGTERM");
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once something accepts TCP connections on the port; fails when the child exited. */
function waitForTcp(port, what, exited) {
  return waitUntil(`${what} on port ${port}`, exited, () => new Promise((done) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => done(false));
  }));
}

/** Polls `check` until it resolves to true; fails when the child exited or time is up. */
async function waitUntil(what, exited, check) {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const reason = exited();
    if (reason) throw new Error(`${what}: exited before it was ready: ${reason}`);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready within ${STARTUP_TIMEOUT_MS} ms`);
    await new Promise((done) => setTimeout(done, 100));
  }
}
