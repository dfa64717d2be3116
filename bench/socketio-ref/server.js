// The reference a team would otherwise pick: a minimal Socket.IO server doing the same
// fan-out as ours, with nothing persisted. Each client joins its rooms at connect
// (auth: { user, rooms }); "message.send" gets a per-room seq, an ack with it, and a
// "message.new" to the other members of the room. Run: node server.js [port] [host].
"use strict";
const { createServer } = require("node:http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 3000);
const host = process.argv[3] || "127.0.0.1";
const httpServer = createServer();
// Only the WebSocket transport, as our gateway offers; no per-message compression.
const io = new Server(httpServer, { transports: ["websocket"], perMessageDeflate: false, serveClient: false });
const seqs = new Map();

io.on("connection", (socket) => {
  const { user, rooms } = socket.handshake.auth || {};
  socket.data.user = user;
  const joined = new Set(Array.isArray(rooms) ? rooms.map(String) : []);
  for (const room of joined) socket.join(room);
  socket.on("message.send", (frame, ack) => {
    const room = frame && String(frame.conversation_id);
    if (!joined.has(room)) {
      if (typeof ack === "function") ack({ error: "not_found" });
      return;
    }
    const seq = (seqs.get(room) || 0) + 1;
    seqs.set(room, seq);
    const message = { conversation_id: room, seq, sender_id: user, client_msg_id: frame.client_msg_id, body: frame.body };
    if (typeof ack === "function") ack({ seq });
    socket.to(room).emit("message.new", message);
  });
});

httpServer.listen(port, host, () => console.log(`socket.io reference on ${host}:${port}`));
process.on("SIGTERM", () => process.exit(0));
